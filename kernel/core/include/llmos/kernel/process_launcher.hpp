// Processes behind an interface (conventions.md, rule 7): the Supervisor
// starts, signals and reaps services through a ProcessLauncher, so its tests
// use a fake. PosixProcessLauncher is the real one (fork/exec/waitpid).
// Launchers are used from one thread (see PosixProcessLauncher for which).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::kernel {

struct ExitStatus {
  bool signaled = false;  // killed by a signal (then `code` is the signal number)
  int code = 0;           // exit code, or signal number
  std::string describe() const;  // "exit code 1", "killed by signal 9 (SIGKILL)"
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Starts argv[0] (looked up in PATH when it has no '/') with `argv`.
  // REQUIRES: !argv.empty().
  virtual Result<pid_t> spawn(const std::vector<std::string>& argv) = 0;
  // Sends `signal`. not_found when no such process.
  virtual Status kill(pid_t pid, int signal) = 0;
  // Reaps `pid` if it has ended: its ExitStatus, or nullopt while it runs.
  // not_found when `pid` is not an unreaped child.
  virtual Result<std::optional<ExitStatus>> poll(pid_t pid) = 0;
};

// fork + execvp. Each child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with
// the kernel (no orphans), an empty signal mask, and every inherited file
// descriptor above stderr closed on exec. An exec failure is reported by
// spawn() itself ("exec /path: No such file or directory").
// Linux sends the death signal when the *thread* that forked exits: call
// spawn() from a thread that lives as long as the kernel (its I/O thread).
class PosixProcessLauncher final : public ProcessLauncher {
 public:
  Result<pid_t> spawn(const std::vector<std::string>& argv) override;
  Status kill(pid_t pid, int signal) override;
  Result<std::optional<ExitStatus>> poll(pid_t pid) override;
};

}  // namespace llmos::kernel
