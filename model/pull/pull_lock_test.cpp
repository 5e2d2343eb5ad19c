#include "llmos/model/pull_lock.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

using namespace llmos;
using namespace llmos::model;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/llmos_pull_lock_test_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("a pull lock is held by one owner; the second is refused naming the source and the holder") {
  TempDir dir;
  const std::string path = dir.path + "/pull-x.partial.lock";
  auto first = PullLock::acquire(path, "http://host/m.gguf");
  REQUIRE_MESSAGE(first.ok(), first.status().to_string());
  CHECK(fs::exists(path));

  auto second = PullLock::acquire(path, "http://host/m.gguf");
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == ErrorCode::kOverloaded);
  const std::string& msg = second.status().message();
  CHECK_MESSAGE(msg.find("http://host/m.gguf is already being pulled into this store by pid " +
                         std::to_string(::getpid())) == 0,
                msg);

  // Another process is refused too (flock holds across processes).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto other = PullLock::acquire(path, "http://host/m.gguf");
    ::_exit(!other.ok() && other.status().code() == ErrorCode::kOverloaded ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));

  // Moved, it is still held; released, the file goes and the next pull gets it.
  PullLock moved = std::move(first).value();
  CHECK_FALSE(PullLock::acquire(path, "again").ok());
  { PullLock gone = std::move(moved); }
  CHECK_FALSE(fs::exists(path));
  auto third = PullLock::acquire(path, "again");
  CHECK(third.ok());
}

TEST_CASE("a pull lock that cannot be created names its file") {
  auto r = PullLock::acquire("/nonexistent-llmos-dir/x.lock", "src");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kFailed);
  CHECK(r.status().message().find("/nonexistent-llmos-dir/x.lock") != std::string::npos);
}
