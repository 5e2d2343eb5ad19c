#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "llmos/kernel/process_launcher.hpp"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace llmos::kernel {

std::string ExitStatus::describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  std::string s = "killed by signal " + std::to_string(code);
  if (const char* abbrev = ::sigabbrev_np(code)) s += std::string(" (SIG") + abbrev + ")";
  return s;
}

Result<pid_t> PosixProcessLauncher::spawn(const std::vector<std::string>& argv) {
  LLMOS_REQUIRE(!argv.empty(), "spawn needs a program");
  // Everything the child needs is prepared before fork: after fork only
  // async-signal-safe calls are allowed.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int report[2];  // the child writes its exec errno here; closes on a successful exec
  if (::pipe2(report, O_CLOEXEC) != 0) return errno_status("pipe2");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    Status st = errno_status("fork");
    ::close(report[0]);
    ::close(report[1]);
    return st;
  }
  if (pid == 0) {
    ::close(report[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the kernel died before prctl took effect
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
#ifdef SYS_close_range
    ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);  // best effort
#endif
    ::execvp(args[0], args.data());
    int e = errno;
    ssize_t ignored = ::write(report[1], &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    errno = child_errno;
    return errno_status("exec " + argv[0]);
  }
  return pid;
}

Status PosixProcessLauncher::kill(pid_t pid, int signal) {
  if (pid <= 0) return invalid_argument("kill: bad pid " + std::to_string(pid));
  if (::kill(pid, signal) == 0) return ok_status();
  if (errno == ESRCH) return not_found("kill " + std::to_string(pid) + ": no such process");
  return errno_status("kill " + std::to_string(pid));
}

Result<std::optional<ExitStatus>> PosixProcessLauncher::poll(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return std::optional<ExitStatus>();
  if (r < 0) {
    if (errno == ECHILD) return not_found("pid " + std::to_string(pid) + " is not a child of this process");
    return errno_status("waitpid " + std::to_string(pid));
  }
  ExitStatus e;
  if (WIFSIGNALED(status)) {
    e.signaled = true;
    e.code = WTERMSIG(status);
  } else {
    e.code = WEXITSTATUS(status);
  }
  return std::optional<ExitStatus>(e);
}

}  // namespace llmos::kernel
