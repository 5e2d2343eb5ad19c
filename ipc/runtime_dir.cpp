#include "llmos/ipc/runtime_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace llmos::ipc {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0%03o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

RuntimeEnvironment RuntimeEnvironment::from_process() {
  RuntimeEnvironment env;
  env.llmos_runtime_dir = env_or_empty("LLMOS_RUNTIME_DIR");
  env.xdg_runtime_dir = env_or_empty("XDG_RUNTIME_DIR");
  env.uid = ::geteuid();
  return env;
}

std::filesystem::path runtime_dir_path(const RuntimeEnvironment& env) {
  std::filesystem::path dir;
  if (!env.llmos_runtime_dir.empty()) {
    dir = env.llmos_runtime_dir;
  } else if (!env.xdg_runtime_dir.empty()) {
    dir = std::filesystem::path(env.xdg_runtime_dir) / "llmos";
  } else {
    dir = "/tmp/llmos-" + std::to_string(env.uid);
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(dir, ec);
  return (ec ? dir : absolute).lexically_normal();
}

Status ensure_private_dir(const std::filesystem::path& dir) {
  const std::string d = dir.string();
  if (d.empty()) return invalid_argument("runtime directory: empty path");
  std::filesystem::path parent = dir.parent_path();
  if (dir.filename().empty()) parent = parent.parent_path();  // "a/b/" names b
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return failed("creating " + parent.string() + " (parent of the runtime directory): " + ec.message());

  if (::mkdir(d.c_str(), 0700) == 0) {
    if (::chmod(d.c_str(), 0700) != 0) return errno_status("chmod 0700 " + d);  // umask
  } else if (errno != EEXIST) {
    return errno_status("mkdir " + d);
  }
  struct stat st {};
  if (::lstat(d.c_str(), &st) != 0) return errno_status("lstat " + d);
  if (S_ISLNK(st.st_mode)) return invalid_argument("runtime directory " + d + " is a symbolic link; refusing to use it");
  if (!S_ISDIR(st.st_mode)) return invalid_argument("runtime directory " + d + " exists and is not a directory");
  if (st.st_uid != ::geteuid()) {
    return invalid_argument("runtime directory " + d + " is owned by uid " + std::to_string(st.st_uid) +
                            ", not by this user (uid " + std::to_string(::geteuid()) +
                            "); refusing to use it");
  }
  if ((st.st_mode & 077) != 0) {
    return invalid_argument("runtime directory " + d + " has mode " + octal_mode(st.st_mode) +
                            "; it must be private to its user (chmod 700 " + d + ")");
  }
  return ok_status();
}

Result<std::filesystem::path> ensure_runtime_dir(const RuntimeEnvironment& env) {
  auto dir = runtime_dir_path(env);
  LLMOS_RETURN_IF_ERROR(ensure_private_dir(dir));
  return dir;
}

Result<std::string> ipc_endpoint(const std::filesystem::path& dir, std::string_view name) {
  std::string path = (dir / (std::string(name) + ".sock")).string();
  constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;
  if (path.size() > kMaxPath) {
    return invalid_argument("socket path " + path + " is " + std::to_string(path.size()) +
                            " bytes, longer than the " + std::to_string(kMaxPath) +
                            " a Unix socket allows; use a shorter LLMOS_RUNTIME_DIR");
  }
  return "ipc://" + path;
}

Result<RuntimeDirLock> RuntimeDirLock::acquire(const std::filesystem::path& dir) {
  std::string path = (dir / "llmosd.lock").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (e == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("unknown");
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return failed("another llmosd (pid " + pid + ") is running in " + dir.string());
    }
    errno = e;
    return errno_status("flock " + path);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    Status st = errno_status("write " + path);
    ::close(fd);
    return st;
  }
  return RuntimeDirLock(fd);
}

RuntimeDirLock& RuntimeDirLock::operator=(RuntimeDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RuntimeDirLock::~RuntimeDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace llmos::ipc
