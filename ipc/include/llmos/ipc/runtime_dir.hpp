// Where a running llmos system keeps its sockets: the runtime directory
// ($LLMOS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/llmos, else /tmp/llmos-$UID), kept
// private to its user (mode 0700), and the ipc:// endpoint names inside it.
// Functions are thread-safe; a RuntimeDirLock is owned by one process.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::ipc {

// The socket names every process agrees on (see ipc/README.md).
inline constexpr std::string_view kKernelSocket = "kernel";  // llmosd ROUTER: control
inline constexpr std::string_view kClientSocket = "io";      // llmos-io ROUTER: clients
inline constexpr std::string_view kTokenSocket = "tokens";   // llmos-io PULL: TokenEvents
inline constexpr std::string_view kMemorySocket = "memory";  // llmos-memory ROUTER

// The inputs that choose the runtime directory; from_process() reads the real
// environment, tests build their own.
struct RuntimeEnvironment {
  std::string llmos_runtime_dir;  // $LLMOS_RUNTIME_DIR ("" = unset)
  std::string xdg_runtime_dir;    // $XDG_RUNTIME_DIR ("" = unset)
  uid_t uid = 0;                  // effective uid
  static RuntimeEnvironment from_process();
};

// The runtime directory for `env` (an absolute path; not created).
std::filesystem::path runtime_dir_path(const RuntimeEnvironment& env);

// Creates `dir` (and missing parents) with mode 0700, or checks an existing
// one. Refuses (invalid_argument, naming the directory and what is wrong) a
// symlink, a non-directory, one owned by another user, or one with any group or
// other permission bits.
Status ensure_private_dir(const std::filesystem::path& dir);

// runtime_dir_path(env), created / checked by ensure_private_dir.
Result<std::filesystem::path> ensure_runtime_dir(
    const RuntimeEnvironment& env = RuntimeEnvironment::from_process());

// "ipc://<dir>/<name>.sock". invalid_argument when the socket path is longer
// than a Unix socket address holds (107 bytes): choose a shorter runtime dir.
Result<std::string> ipc_endpoint(const std::filesystem::path& dir, std::string_view name);

// An exclusive lock on <dir>/llmosd.lock holding the owner's pid, so two
// kernels never share (and steal each other's sockets in) one runtime dir.
// Released when destroyed or when the process dies.
class RuntimeDirLock {
 public:
  // failed("another llmosd (pid N) is running in DIR") when held elsewhere.
  static Result<RuntimeDirLock> acquire(const std::filesystem::path& dir);
  RuntimeDirLock(RuntimeDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RuntimeDirLock& operator=(RuntimeDirLock&& other) noexcept;
  RuntimeDirLock(const RuntimeDirLock&) = delete;
  RuntimeDirLock& operator=(const RuntimeDirLock&) = delete;
  ~RuntimeDirLock();

 private:
  explicit RuntimeDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace llmos::ipc
