#include "llmos/kernel/supervisor.hpp"

#include <signal.h>

#include <algorithm>

namespace llmos::kernel {
namespace {

// After SIGKILL the exit is normally reaped on SIGCHLD; poll this often anyway.
constexpr Duration kReapPoll = std::chrono::milliseconds(100);

std::string millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

std::string_view service_state_name(ServiceState state) {
  switch (state) {
    case ServiceState::kStarting: return "starting";
    case ServiceState::kRunning: return "running";
    case ServiceState::kKilling: return "killing";
    case ServiceState::kRestarting: return "restarting";
    case ServiceState::kStopping: return "stopping";
    case ServiceState::kStopped: return "stopped";
    case ServiceState::kFailed: return "failed";
  }
  return "unknown";
}

std::string_view event_kind_name(SupervisorEvent::Kind kind) {
  using K = SupervisorEvent::Kind;
  switch (kind) {
    case K::kStarted: return "started";
    case K::kRestarted: return "restarted";
    case K::kExited: return "exited";
    case K::kHeartbeatMissed: return "heartbeat missed";
    case K::kSpawnFailed: return "spawn failed";
    case K::kGaveUp: return "gave up";
    case K::kStopped: return "stopped";
  }
  return "unknown";
}

Duration Supervisor::backoff_for(uint32_t failures) const {
  Duration d = config_.initial_backoff;
  for (uint32_t i = 1; i < failures && d < config_.max_backoff; ++i) d *= 2;
  return std::min(d, config_.max_backoff);
}

Status Supervisor::add(ServiceSpec spec) {
  if (spec.argv.empty()) return invalid_argument("service '" + spec.name + "': no program to run");
  if (services_.count(spec.name)) return invalid_argument("service '" + spec.name + "' already exists");
  std::string name = spec.name;
  Service& s = services_[name];
  s.spec = std::move(spec);
  s.status.name = name;
  Status result;
  try_spawn(s, clock_.now(), pending_, &result);
  return result;
}

void Supervisor::try_spawn(Service& s, TimePoint now, std::vector<SupervisorEvent>& events,
                           Status* result) {
  auto pid = launcher_.spawn(s.spec.argv);
  if (!pid.ok()) {
    std::string why = pid.status().to_string();
    s.status.last_exit = "spawn failed: " + why;
    events.push_back({SupervisorEvent::Kind::kSpawnFailed, s.spec.name, 0, why});
    record_failure(s, now, events);
    if (result) *result = Status(pid.status().code(), "service '" + s.spec.name + "': " + pid.status().message());
    return;
  }
  s.status.pid = *pid;
  s.status.state = ServiceState::kStarting;
  s.status.started_at = now;
  s.deadline = now + config_.startup_timeout;
  s.sigkill_sent = false;
  if (s.ever_spawned) {
    ++s.status.restarts;
    events.push_back({SupervisorEvent::Kind::kRestarted, s.spec.name, *pid,
                      "restart " + std::to_string(s.status.restarts)});
  } else {
    events.push_back({SupervisorEvent::Kind::kStarted, s.spec.name, *pid, {}});
  }
  s.ever_spawned = true;
}

void Supervisor::record_failure(Service& s, TimePoint now, std::vector<SupervisorEvent>& events) {
  uint32_t failures = ++s.status.consecutive_failures;
  if (config_.max_consecutive_failures && failures >= config_.max_consecutive_failures) {
    s.status.state = ServiceState::kFailed;
    events.push_back({SupervisorEvent::Kind::kGaveUp, s.spec.name, 0,
                      std::to_string(failures) + " consecutive failures; last: " + s.status.last_exit});
    return;
  }
  s.status.state = ServiceState::kRestarting;
  s.restart_at = now + backoff_for(failures);
}

Status Supervisor::heartbeat(std::string_view name, pid_t pid) {
  auto it = services_.find(name);
  if (it == services_.end()) return not_found("no service named '" + std::string(name) + "'");
  Service& s = it->second;
  if (pid == 0 || pid != s.status.pid) {
    return invalid_argument("heartbeat from pid " + std::to_string(pid) + ", but service '" +
                            std::string(name) + "' runs as pid " + std::to_string(s.status.pid) +
                            " (a message from an earlier run?)");
  }
  if (s.status.state != ServiceState::kStarting && s.status.state != ServiceState::kRunning) {
    return ok_status();  // being killed or stopped: too late
  }
  TimePoint now = clock_.now();
  s.status.state = ServiceState::kRunning;
  s.deadline = now + config_.heartbeat_timeout;
  if (now - s.status.started_at >= config_.stable_uptime) s.status.consecutive_failures = 0;
  return ok_status();
}

std::vector<SupervisorEvent> Supervisor::tick() {
  const TimePoint now = clock_.now();
  std::vector<SupervisorEvent> events = std::move(pending_);
  pending_.clear();
  for (auto& [name, s] : services_) {
    ServiceStatus& st = s.status;
    if (st.pid > 0) {
      auto polled = launcher_.poll(st.pid);
      std::optional<std::string> how;
      if (!polled.ok()) {
        how = "lost track of the process: " + polled.status().to_string();
      } else if (polled->has_value()) {
        how = (*polled)->describe();
      }
      if (how) {
        const pid_t old = st.pid;
        st.pid = 0;
        st.last_exit = *how;
        if (st.state == ServiceState::kStopping) {
          st.state = ServiceState::kStopped;
          events.push_back({SupervisorEvent::Kind::kStopped, name, old, *how});
          continue;
        }
        events.push_back({SupervisorEvent::Kind::kExited, name, old, *how});
        if (now - st.started_at >= config_.stable_uptime) st.consecutive_failures = 0;
        record_failure(s, now, events);
        continue;
      }
      // Still running.
      if ((st.state == ServiceState::kStarting || st.state == ServiceState::kRunning) &&
          now >= s.deadline) {
        std::string why = st.state == ServiceState::kStarting
                              ? "no heartbeat within " + millis(config_.startup_timeout) + " of start"
                              : "no heartbeat for " + millis(config_.heartbeat_timeout);
        (void)launcher_.kill(st.pid, SIGKILL);  // not_found: it just died; reaped next tick
        s.sigkill_sent = true;
        st.state = ServiceState::kKilling;
        s.deadline = now + kReapPoll;
        events.push_back({SupervisorEvent::Kind::kHeartbeatMissed, name, st.pid, why});
      } else if (st.state == ServiceState::kStopping && now >= s.deadline) {
        if (!s.sigkill_sent) (void)launcher_.kill(st.pid, SIGKILL);
        s.sigkill_sent = true;
        s.deadline = now + kReapPoll;
      } else if (st.state == ServiceState::kKilling && now >= s.deadline) {
        s.deadline = now + kReapPoll;
      }
      continue;
    }
    if (st.state == ServiceState::kRestarting && now >= s.restart_at) {
      try_spawn(s, now, events, nullptr);
    }
  }
  return events;
}

std::optional<TimePoint> Supervisor::next_deadline() const {
  std::optional<TimePoint> next;
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (!pending_.empty()) consider(clock_.now());
  for (const auto& [name, s] : services_) {
    switch (s.status.state) {
      case ServiceState::kStarting:
      case ServiceState::kRunning:
      case ServiceState::kKilling:
      case ServiceState::kStopping:
        consider(s.deadline);
        break;
      case ServiceState::kRestarting:
        consider(s.restart_at);
        break;
      default:
        break;
    }
  }
  return next;
}

Status Supervisor::stop(std::string_view name) {
  auto it = services_.find(name);
  if (it == services_.end()) return not_found("no service named '" + std::string(name) + "'");
  Service& s = it->second;
  ServiceStatus& st = s.status;
  switch (st.state) {
    case ServiceState::kStopping:
    case ServiceState::kStopped:
      return ok_status();
    case ServiceState::kRestarting:
    case ServiceState::kFailed:
      st.state = ServiceState::kStopped;
      pending_.push_back({SupervisorEvent::Kind::kStopped, s.spec.name, 0, "was not running"});
      return ok_status();
    default:
      break;
  }
  if (!s.sigkill_sent) (void)launcher_.kill(st.pid, SIGTERM);
  st.state = ServiceState::kStopping;
  s.deadline = clock_.now() + (s.sigkill_sent ? kReapPoll : config_.stop_grace);
  return ok_status();
}

void Supervisor::stop_all() {
  for (auto& [name, s] : services_) (void)stop(name);
}

Status Supervisor::remove(std::string_view name) {
  auto it = services_.find(name);
  if (it == services_.end()) return not_found("no service named '" + std::string(name) + "'");
  ServiceState st = it->second.status.state;
  if (st != ServiceState::kStopped && st != ServiceState::kFailed) {
    return invalid_argument("service '" + std::string(name) + "' is " +
                            std::string(service_state_name(st)) + "; stop it first");
  }
  services_.erase(it);
  return ok_status();
}

bool Supervisor::all_stopped() const {
  return std::all_of(services_.begin(), services_.end(), [](const auto& kv) {
    return kv.second.status.state == ServiceState::kStopped ||
           kv.second.status.state == ServiceState::kFailed;
  });
}

std::optional<ServiceStatus> Supervisor::status(std::string_view name) const {
  auto it = services_.find(name);
  if (it == services_.end()) return std::nullopt;
  return it->second.status;
}

std::vector<ServiceStatus> Supervisor::services() const {
  std::vector<ServiceStatus> out;
  for (const auto& [name, s] : services_) out.push_back(s.status);
  return out;
}

}  // namespace llmos::kernel
