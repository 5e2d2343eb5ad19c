#include "llmos/ipc/runtime_dir.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "temp_dir.hpp"

namespace llmos::ipc {
namespace {

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("the runtime dir comes from LLMOS_RUNTIME_DIR, then XDG_RUNTIME_DIR, then /tmp") {
  RuntimeEnvironment env;
  env.uid = 1234;
  CHECK(runtime_dir_path(env) == "/tmp/llmos-1234");
  env.xdg_runtime_dir = "/run/user/1234";
  CHECK(runtime_dir_path(env) == "/run/user/1234/llmos");
  env.llmos_runtime_dir = "/srv/llmos/a/";
  CHECK(runtime_dir_path(env) == "/srv/llmos/a/");
  env.llmos_runtime_dir = "relative/dir";
  CHECK(runtime_dir_path(env).is_absolute());
}

TEST_CASE("ensure_runtime_dir creates a private directory, parents included, whatever the umask") {
  testing::TempDir tmp;
  RuntimeEnvironment env;
  env.llmos_runtime_dir = (tmp.path() / "a" / "b" / "run").string();
  mode_t old = ::umask(0);
  auto dir = ensure_runtime_dir(env);
  ::umask(old);
  REQUIRE_MESSAGE(dir.ok(), dir.status().to_string());
  CHECK(*dir == tmp.path() / "a" / "b" / "run");
  CHECK(mode_of(*dir) == 0700);
  CHECK(ensure_runtime_dir(env).ok());  // an existing, correct one is fine
}

TEST_CASE("an existing runtime dir that is not private to this user is refused") {
  testing::TempDir tmp;
  auto dir = tmp.path() / "run";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  Status st = ensure_private_dir(dir);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "runtime directory " + dir.string() +
                            " has mode 0755; it must be private to its user (chmod 700 " +
                            dir.string() + ")");
  CHECK(mode_of(dir) == 0755);  // refused, not silently changed

  auto link = tmp.path() / "link";
  REQUIRE(::chmod(dir.c_str(), 0700) == 0);
  std::filesystem::create_directory_symlink(dir, link);
  st = ensure_private_dir(link);
  CHECK(st.message().find("is a symbolic link") != std::string::npos);

  auto file = tmp.path() / "file";
  std::ofstream(file) << "x";
  st = ensure_private_dir(file);
  CHECK(st.message().find("is not a directory") != std::string::npos);

  if (::geteuid() == 0) {  // only root can hand a directory to someone else
    REQUIRE(::chown(dir.c_str(), 4321, 4321) == 0);
    st = ensure_private_dir(dir);
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(st.message().find("is owned by uid 4321") != std::string::npos);
  }
}

TEST_CASE("ipc endpoints live in the runtime dir and must fit a Unix socket address") {
  auto e = ipc_endpoint("/run/user/1000/llmos", kKernelSocket);
  REQUIRE(e.ok());
  CHECK(*e == "ipc:///run/user/1000/llmos/kernel.sock");
  auto too_long = ipc_endpoint("/tmp/" + std::string(120, 'x'), kKernelSocket);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.status().code() == ErrorCode::kInvalidArgument);
  CHECK(too_long.status().message().find("use a shorter LLMOS_RUNTIME_DIR") != std::string::npos);
}

TEST_CASE("only one kernel can hold a runtime dir") {
  testing::TempDir tmp;
  {
    auto first = RuntimeDirLock::acquire(tmp.path());
    REQUIRE(first.ok());
    auto second = RuntimeDirLock::acquire(tmp.path());
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().message() == "another llmosd (pid " + std::to_string(::getpid()) +
                                           ") is running in " + tmp.path().string());
  }
  CHECK(RuntimeDirLock::acquire(tmp.path()).ok());  // released with its owner
}

}  // namespace
}  // namespace llmos::ipc
