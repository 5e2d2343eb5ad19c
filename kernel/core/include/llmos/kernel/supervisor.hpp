// Supervisor: spawns the kernel's services, expects heartbeats, kills a silent one, restarts a
// dead one with capped exponential backoff (reset after a stable run), and reports events the
// kernel acts on. The ProcessLauncher and Clock it borrows must outlive it. Owned by the
// kernel's I/O thread; not thread-safe.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/kernel/clock.hpp"
#include "llmos/kernel/process_launcher.hpp"

namespace llmos::kernel {

struct ServiceSpec {
  std::string name;               // unique: "io", "memory", "model:stories"
  std::vector<std::string> argv;  // argv[0]: the program
};

struct SupervisorConfig {
  Duration startup_timeout = std::chrono::seconds(10);   // spawn -> first heartbeat
  Duration heartbeat_timeout = std::chrono::seconds(3);  // between heartbeats
  Duration initial_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(10);       // doubles up to this
  Duration stable_uptime = std::chrono::seconds(30);     // a run this long resets the backoff
  Duration stop_grace = std::chrono::seconds(2);         // SIGTERM -> SIGKILL on stop()
  uint32_t max_consecutive_failures = 0;                 // then give up; 0 = never
};

enum class ServiceState {
  kStarting,    // spawned, no heartbeat yet
  kRunning,     // heartbeating
  kKilling,     // missed its heartbeats; SIGKILL sent, waiting to reap it
  kRestarting,  // dead; restarts when the backoff has passed
  kStopping,    // stop() requested; SIGTERM sent (SIGKILL after stop_grace)
  kStopped,     // stopped on purpose
  kFailed,      // gave up after max_consecutive_failures
};
std::string_view service_state_name(ServiceState state);

struct ServiceStatus {
  std::string name;
  ServiceState state = ServiceState::kStarting;
  pid_t pid = 0;                   // 0 when no process runs
  uint32_t restarts = 0;           // spawns after the first
  uint32_t consecutive_failures = 0;
  TimePoint started_at{};          // of the current process
  std::string last_exit;           // "exit code 1", "killed by signal 9 (SIGKILL)", ...
};

struct SupervisorEvent {
  enum class Kind {
    kStarted,          // first spawn
    kRestarted,        // spawned again after a death
    kExited,           // died on its own (detail: how)
    kHeartbeatMissed,  // silent past its deadline: killed (an kExited follows)
    kSpawnFailed,      // spawn failed (detail: why); retried after the backoff
    kGaveUp,           // too many consecutive failures: no more restarts
    kStopped,          // stopped on purpose and reaped
  };
  Kind kind;
  std::string name;
  pid_t pid = 0;
  std::string detail;
};
std::string_view event_kind_name(SupervisorEvent::Kind kind);

class Supervisor {
 public:
  Supervisor(ProcessLauncher& launcher, const Clock& clock, SupervisorConfig config = {})
      : launcher_(launcher), clock_(clock), config_(config) {}
  // Leaves processes alone: they die with the kernel (PR_SET_PDEATHSIG) or by stop_all().
  ~Supervisor() = default;

  // Registers `spec` and spawns it. invalid_argument: duplicate name, empty
  // argv. A failed spawn is returned and also retried after the backoff.
  Status add(ServiceSpec spec);

  // A heartbeat (or Hello) from `name` running as `pid`: pushes back its
  // deadline. not_found for an unknown name; invalid_argument for a pid that
  // is not its current process (a stale message from an earlier run).
  Status heartbeat(std::string_view name, pid_t pid);

  // Reaps exits, kills services past their deadline, restarts those whose
  // backoff has passed. Call it when next_deadline() comes and on SIGCHLD.
  std::vector<SupervisorEvent> tick();
  // When tick() next has something to do by the clock (nullopt: nothing).
  std::optional<TimePoint> next_deadline() const;

  // Stops `name` for good: SIGTERM, SIGKILL after stop_grace (in tick()).
  Status stop(std::string_view name);
  void stop_all();
  // Forgets a stopped or failed service, so its name can be added again.
  // not_found for an unknown name; invalid_argument while it still has a process.
  Status remove(std::string_view name);
  // Every service is stopped or failed (none has a process left).
  bool all_stopped() const;

  std::optional<ServiceStatus> status(std::string_view name) const;
  std::vector<ServiceStatus> services() const;  // by name

 private:
  struct Service {
    ServiceSpec spec;
    ServiceStatus status;
    TimePoint deadline{};      // heartbeat / stop deadline, by state
    TimePoint restart_at{};    // kRestarting
    bool ever_spawned = false;
    bool sigkill_sent = false;
  };
  void try_spawn(Service& s, TimePoint now, std::vector<SupervisorEvent>& events, Status* result);
  void record_failure(Service& s, TimePoint now, std::vector<SupervisorEvent>& events);
  Duration backoff_for(uint32_t failures) const;

  ProcessLauncher& launcher_;
  const Clock& clock_;
  SupervisorConfig config_;
  std::map<std::string, Service, std::less<>> services_;
  std::vector<SupervisorEvent> pending_;  // from add()/stop(), returned by the next tick()
};

}  // namespace llmos::kernel
