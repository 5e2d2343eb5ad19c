// A benchmark run's scratch folder: BASE/llmos-bench-NAME-XXXXXX, where BASE
// is the run's --dir, else $TMPDIR, else /tmp; removed with its contents when
// the object dies. Owned by one run; not shared between threads.
#pragma once
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace llmos::bench {

class BenchWorkDir {
 public:
  BenchWorkDir(std::string base, std::string_view name) {
    if (base.empty()) base = std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
    base_ = base;
    std::string pattern = base + "/llmos-bench-" + std::string(name) + "-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  BenchWorkDir(const BenchWorkDir&) = delete;
  BenchWorkDir& operator=(const BenchWorkDir&) = delete;
  ~BenchWorkDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // False when the folder could not be made (then error() says where).
  bool ok() const { return !path_.empty(); }
  std::string error() const { return "cannot make a folder in " + base_; }
  const std::string& path() const { return path_; }

 private:
  std::string base_, path_;
};

}  // namespace llmos::bench
