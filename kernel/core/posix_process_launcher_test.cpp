#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "llmos/kernel/process_launcher.hpp"
#include "llmos/kernel/supervisor.hpp"

namespace llmos::kernel {
namespace {

using namespace std::chrono_literals;

// Polls until `pid` ends (at most ~5 s).
std::optional<ExitStatus> wait_exit(ProcessLauncher& launcher, pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    auto r = launcher.poll(pid);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    if (r->has_value()) return *r;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

TEST_CASE("PosixProcessLauncher runs programs and reports how they ended") {
  PosixProcessLauncher launcher;
  auto t = launcher.spawn({"/bin/true"});
  REQUIRE(t.ok());
  auto exit = wait_exit(launcher, *t);
  REQUIRE(exit.has_value());
  CHECK_FALSE(exit->signaled);
  CHECK(exit->code == 0);
  CHECK(launcher.poll(*t).status().code() == ErrorCode::kNotFound);  // already reaped

  auto three = launcher.spawn({"sh", "-c", "exit 3"});  // found in PATH
  REQUIRE(three.ok());
  exit = wait_exit(launcher, *three);
  REQUIRE(exit.has_value());
  CHECK(exit->describe() == "exit code 3");

  auto sleeper = launcher.spawn({"/bin/sleep", "30"});
  REQUIRE(sleeper.ok());
  auto running = launcher.poll(*sleeper);
  REQUIRE(running.ok());
  CHECK_FALSE(running->has_value());
  REQUIRE(launcher.kill(*sleeper, SIGKILL).ok());
  exit = wait_exit(launcher, *sleeper);
  REQUIRE(exit.has_value());
  CHECK(exit->signaled);
  CHECK(exit->describe() == "killed by signal 9 (SIGKILL)");
  CHECK(launcher.kill(*sleeper, SIGKILL).code() == ErrorCode::kNotFound);
}

TEST_CASE("PosixProcessLauncher reports a program that cannot be executed") {
  PosixProcessLauncher launcher;
  auto r = launcher.spawn({"/nonexistent/llmos-model", "--x"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "exec /nonexistent/llmos-model: No such file or directory");
}

TEST_CASE("children die with the process that spawned them") {
  // We become a subreaper so the orphaned grandchild is re-parented to us and
  // we can see how it ended.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) {  // plays the kernel: spawns a service, then dies
    ::close(fds[0]);
    PosixProcessLauncher launcher;
    auto child = launcher.spawn({"/bin/sleep", "30"});
    pid_t pid = child.ok() ? *child : -1;
    ssize_t n = ::write(fds[1], &pid, sizeof pid);
    ::_exit(n == sizeof pid ? 0 : 1);
  }
  ::close(fds[1]);
  pid_t grandchild = -1;
  REQUIRE(::read(fds[0], &grandchild, sizeof grandchild) == sizeof grandchild);
  ::close(fds[0]);
  REQUIRE(grandchild > 0);
  int status = 0;
  REQUIRE(::waitpid(middle, &status, 0) == middle);
  pid_t reaped = 0;
  for (int i = 0; i < 500 && reaped == 0; ++i) {
    reaped = ::waitpid(grandchild, &status, WNOHANG);
    if (reaped == 0) std::this_thread::sleep_for(10ms);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  REQUIRE(reaped == grandchild);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("a Supervisor over real processes restarts a service that keeps exiting") {
  PosixProcessLauncher launcher;
  SteadyClock clock;
  SupervisorConfig cfg;
  cfg.initial_backoff = 10ms;
  cfg.max_backoff = 20ms;
  Supervisor sup(launcher, clock, cfg);
  REQUIRE(sup.add({"flaky", {"/bin/true"}}).ok());
  REQUIRE(sup.add({"steady", {"/bin/sleep", "30"}}).ok());
  auto until = std::chrono::steady_clock::now() + 2s;
  while (sup.status("flaky")->restarts < 3 && std::chrono::steady_clock::now() < until) {
    sup.tick();
    std::this_thread::sleep_for(5ms);
  }
  CHECK(sup.status("flaky")->restarts >= 3);
  CHECK(sup.status("flaky")->last_exit == "exit code 0");
  CHECK(sup.status("steady")->restarts == 0);
  sup.stop_all();
  until = std::chrono::steady_clock::now() + 5s;
  while (!sup.all_stopped() && std::chrono::steady_clock::now() < until) {
    sup.tick();
    std::this_thread::sleep_for(5ms);
  }
  CHECK(sup.all_stopped());
  CHECK(sup.status("steady")->last_exit == "killed by signal 15 (SIGTERM)");
}

}  // namespace
}  // namespace llmos::kernel
