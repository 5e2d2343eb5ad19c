// Test helper: a fresh directory under /tmp, removed with its contents when the
// object dies. Short paths, so ipc:// socket names fit in a Unix address.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace llmos::ipc::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/llmos-t-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::filesystem::filesystem_error("mkdtemp", std::error_code(errno, std::generic_category()));
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace llmos::ipc::testing
