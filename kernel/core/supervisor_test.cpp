#include "llmos/kernel/supervisor.hpp"

#include <doctest/doctest.h>
#include <signal.h>

#include <map>

namespace llmos::kernel {
namespace {

using namespace std::chrono_literals;
using Kind = SupervisorEvent::Kind;

// Processes on paper: the test decides when they exit.
class FakeLauncher final : public ProcessLauncher {
 public:
  Result<pid_t> spawn(const std::vector<std::string>& argv) override {
    spawned.push_back(argv);
    if (!fail_spawns.ok()) return fail_spawns;
    pid_t pid = next_pid++;
    procs[pid] = std::nullopt;
    return pid;
  }
  Status kill(pid_t pid, int signal) override {
    kills.emplace_back(pid, signal);
    auto it = procs.find(pid);
    if (it == procs.end()) return not_found("no such process");
    if (signal == SIGKILL || (signal == SIGTERM && obey_sigterm)) it->second = ExitStatus{true, signal};
    return ok_status();
  }
  Result<std::optional<ExitStatus>> poll(pid_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return not_found("not a child");
    auto exit = it->second;
    if (exit) procs.erase(it);
    return exit;
  }
  void exit(pid_t pid, int code) { procs.at(pid) = ExitStatus{false, code}; }

  std::vector<std::vector<std::string>> spawned;
  std::vector<std::pair<pid_t, int>> kills;
  std::map<pid_t, std::optional<ExitStatus>> procs;
  pid_t next_pid = 100;
  Status fail_spawns;
  bool obey_sigterm = true;
};

SupervisorConfig config() {
  SupervisorConfig c;
  c.startup_timeout = 5s;
  c.heartbeat_timeout = 2s;
  c.initial_backoff = 100ms;
  c.max_backoff = 1s;
  c.stable_uptime = 30s;
  c.stop_grace = 1s;
  return c;
}

bool has(const std::vector<SupervisorEvent>& events, Kind kind) {
  for (const auto& e : events) if (e.kind == kind) return true;
  return false;
}

TEST_CASE("a service that stops heartbeating is killed and restarted") {
  FakeLauncher launcher;
  ManualClock clock;
  Supervisor sup(launcher, clock, config());
  REQUIRE(sup.add({"model:m", {"llmos-model", "--model", "m"}}).ok());
  auto events = sup.tick();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kStarted);
  CHECK(events[0].pid == 100);
  CHECK(launcher.spawned[0] == std::vector<std::string>{"llmos-model", "--model", "m"});

  for (int i = 0; i < 5; ++i) {  // heartbeats keep it alive
    clock.advance(1500ms);
    REQUIRE(sup.heartbeat("model:m", 100).ok());
    CHECK(sup.tick().empty());
  }
  CHECK(sup.status("model:m")->state == ServiceState::kRunning);

  clock.advance(2s);
  events = sup.tick();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kHeartbeatMissed);
  CHECK(events[0].detail == "no heartbeat for 2000 ms");
  CHECK(launcher.kills.back() == std::make_pair(pid_t{100}, SIGKILL));

  events = sup.tick();  // the kill is reaped
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kExited);
  CHECK(events[0].detail == "killed by signal 9 (SIGKILL)");
  CHECK(sup.status("model:m")->state == ServiceState::kRestarting);
  CHECK(sup.next_deadline() == clock.now() + 100ms);

  clock.advance(100ms);
  events = sup.tick();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kRestarted);
  CHECK(events[0].pid == 101);
  auto st = *sup.status("model:m");
  CHECK(st.restarts == 1);
  CHECK(st.pid == 101);
  CHECK(st.last_exit == "killed by signal 9 (SIGKILL)");
  // A heartbeat from the old process is stale.
  CHECK(sup.heartbeat("model:m", 100).code() == ErrorCode::kInvalidArgument);
  CHECK(sup.heartbeat("nope", 100).code() == ErrorCode::kNotFound);
}

TEST_CASE("a service that never says hello is killed after the startup timeout") {
  FakeLauncher launcher;
  ManualClock clock;
  Supervisor sup(launcher, clock, config());
  REQUIRE(sup.add({"io", {"llmos-io"}}).ok());
  sup.tick();
  clock.advance(4999ms);
  CHECK(sup.tick().empty());
  clock.advance(1ms);
  auto events = sup.tick();
  REQUIRE(events.size() == 1);
  CHECK(events[0].detail == "no heartbeat within 5000 ms of start");
}

TEST_CASE("restarts back off exponentially up to the cap, and reset after a stable run") {
  FakeLauncher launcher;
  ManualClock clock;
  Supervisor sup(launcher, clock, config());
  REQUIRE(sup.add({"memory", {"llmos-memory"}}).ok());
  sup.tick();
  std::vector<Duration> waits;
  for (int crash = 0; crash < 6; ++crash) {
    launcher.exit(sup.status("memory")->pid, 1);
    auto events = sup.tick();
    REQUIRE(has(events, Kind::kExited));
    TimePoint died = clock.now();
    REQUIRE(sup.next_deadline().has_value());
    waits.push_back(*sup.next_deadline() - died);
    clock.advance(waits.back());
    REQUIRE(has(sup.tick(), Kind::kRestarted));
  }
  CHECK(waits == std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s});
  CHECK(sup.status("memory")->restarts == 6);
  CHECK(sup.status("memory")->last_exit == "exit code 1");

  // Up and heartbeating for longer than stable_uptime: the next crash waits the minimum.
  pid_t pid = sup.status("memory")->pid;
  for (int i = 0; i < 31; ++i) {
    clock.advance(1s);
    REQUIRE(sup.heartbeat("memory", pid).ok());
  }
  CHECK(sup.status("memory")->consecutive_failures == 0);
  launcher.exit(pid, 2);
  sup.tick();
  CHECK(*sup.next_deadline() - clock.now() == 100ms);
}

TEST_CASE("the supervisor gives up after too many consecutive failures") {
  FakeLauncher launcher;
  ManualClock clock;
  auto cfg = config();
  cfg.max_consecutive_failures = 3;
  Supervisor sup(launcher, clock, cfg);
  REQUIRE(sup.add({"model:bad", {"llmos-model"}}).ok());
  sup.tick();
  std::vector<SupervisorEvent> events;
  for (int i = 0; i < 3; ++i) {
    launcher.exit(sup.status("model:bad")->pid, 3);
    events = sup.tick();
    clock.advance(10s);
    if (i < 2) REQUIRE(has(sup.tick(), Kind::kRestarted));
  }
  REQUIRE(has(events, Kind::kGaveUp));
  CHECK(events.back().detail == "3 consecutive failures; last: exit code 3");
  CHECK(sup.status("model:bad")->state == ServiceState::kFailed);
  CHECK(sup.tick().empty());
  CHECK(sup.all_stopped());
}

TEST_CASE("a failed spawn is reported and retried") {
  FakeLauncher launcher;
  ManualClock clock;
  Supervisor sup(launcher, clock, config());
  launcher.fail_spawns = failed("exec /nonexistent/llmos-io: No such file or directory");
  Status st = sup.add({"io", {"/nonexistent/llmos-io"}});
  CHECK(st.code() == ErrorCode::kFailed);
  CHECK(st.message() == "service 'io': exec /nonexistent/llmos-io: No such file or directory");
  auto events = sup.tick();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kSpawnFailed);
  launcher.fail_spawns = ok_status();
  clock.advance(100ms);
  events = sup.tick();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kStarted);  // the first process that ever ran
  CHECK(sup.add({"io", {"x"}}).code() == ErrorCode::kInvalidArgument);
  CHECK(sup.add({"empty", {}}).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("stop sends SIGTERM, then SIGKILL after the grace period, and never restarts") {
  FakeLauncher launcher;
  launcher.obey_sigterm = false;
  ManualClock clock;
  Supervisor sup(launcher, clock, config());
  REQUIRE(sup.add({"io", {"llmos-io"}}).ok());
  REQUIRE(sup.add({"memory", {"llmos-memory"}}).ok());
  sup.tick();
  sup.stop_all();
  CHECK(launcher.kills.size() == 2);
  CHECK(launcher.kills[0].second == SIGTERM);
  CHECK(sup.tick().empty());
  CHECK_FALSE(sup.all_stopped());
  clock.advance(1s);
  sup.tick();  // grace over: SIGKILL
  CHECK(launcher.kills.size() == 4);
  CHECK(launcher.kills[2].second == SIGKILL);
  auto events = sup.tick();
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == Kind::kStopped);
  CHECK(events[1].kind == Kind::kStopped);
  CHECK(sup.all_stopped());
  clock.advance(1h);
  CHECK(sup.tick().empty());
  CHECK(launcher.spawned.size() == 2);
  CHECK_FALSE(sup.next_deadline().has_value());
}

}  // namespace
}  // namespace llmos::kernel

namespace llmos::kernel {
namespace {

TEST_CASE("a stopped service can be removed and added again under its name") {
  FakeLauncher launcher;
  ManualClock clock;
  Supervisor sup(launcher, clock, config());
  REQUIRE(sup.add({"model:m", {"llmos-model"}}).ok());
  CHECK(sup.remove("model:m").code() == ErrorCode::kInvalidArgument);
  CHECK(sup.remove("nope").code() == ErrorCode::kNotFound);
  REQUIRE(sup.stop("model:m").ok());
  sup.tick();
  REQUIRE(sup.status("model:m")->state == ServiceState::kStopped);
  REQUIRE(sup.remove("model:m").ok());
  CHECK_FALSE(sup.status("model:m").has_value());
  REQUIRE(sup.add({"model:m", {"llmos-model"}}).ok());
  CHECK(sup.status("model:m")->restarts == 0);
}

}  // namespace
}  // namespace llmos::kernel
