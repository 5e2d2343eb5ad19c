#include "kernel_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <boost/asio/post.hpp>

#include "llmos/ipc/runtime_dir.hpp"

namespace llmos::kernel {
namespace {

using Body = wire::Envelope::Body;

uint64_t millis_between(TimePoint a, TimePoint b) {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

wire::ServiceKind kind_of_service(std::string_view name) {
  if (name == "io") return wire::ServiceKind::IO;
  if (name == "memory") return wire::ServiceKind::MEMORY;
  return wire::ServiceKind::MODEL;
}

wire::ServiceState wire_state(ServiceState s) {
  switch (s) {
    case ServiceState::kStarting: return wire::ServiceState::STARTING;
    case ServiceState::kRunning: return wire::ServiceState::RUNNING;
    case ServiceState::kKilling:
    case ServiceState::kRestarting: return wire::ServiceState::RESTARTING;
    case ServiceState::kStopping:
    case ServiceState::kStopped:
    case ServiceState::kFailed: return wire::ServiceState::STOPPED;
  }
  return wire::ServiceState::STOPPED;
}

}  // namespace

KernelServer::KernelServer(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log,
                           KernelConfig config)
    : io_(io),
      zmq_(zmq),
      log_(log),
      config_(std::move(config)),
      supervisor_(launcher_, clock_, config_.supervisor),
      registry_(config_.budget_bytes),
      scheduler_(config_.scheduler),
      tick_timer_(io),
      signals_(io, SIGCHLD, SIGTERM, SIGINT) {}

KernelServer::~KernelServer() { pool_.join(); }

std::vector<std::string> KernelServer::service_argv(const std::string& program,
                                                    std::vector<std::string> extra) const {
  std::vector<std::string> argv = {(config_.bin_dir / program).string(), "--runtime-dir",
                                   config_.runtime_dir.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

Status KernelServer::start() {
  started_at_ = clock_.now();
  LLMOS_ASSIGN_OR_RETURN(std::string endpoint, ipc::ipc_endpoint(config_.runtime_dir, ipc::kKernelSocket));
  ipc::SocketOptions options;
  options.router_handover = true;  // a restarted service takes over its old name
  options.send_timeout = std::chrono::milliseconds(200);
  options.send_hwm = 10000;
  options.recv_hwm = 10000;
  options.limits.max_message_bytes = 4 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto socket, ipc::Socket::bind(zmq_, ipc::SocketType::kRouter, endpoint, options));
  router_ = std::make_unique<ipc::LoopSocket>(io_, std::move(socket), log_);
  router_->start([this](ipc::DecodedMessage&& m) { on_message(std::move(m)); });

  wait_signal();

  log_.info("llmosd starting in " + config_.runtime_dir.string() + ", memory budget " +
            std::to_string(config_.budget_bytes) + " bytes");
  LLMOS_RETURN_IF_ERROR(supervisor_.add({"memory", service_argv("llmos-memory", {"--cap-bytes", std::to_string(config_.memory_cap_bytes)})}));
  LLMOS_RETURN_IF_ERROR(supervisor_.add({"io", service_argv("llmos-io", config_.io_args)}));
  tick();
  return ok_status();
}

void KernelServer::wait_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGCHLD) {
      tick();
    } else {
      begin_shutdown(std::string("signal SIG") + ::sigabbrev_np(sig));
    }
    wait_signal();
  });
}

// ---- messages ---------------------------------------------------------------

void KernelServer::on_message(ipc::DecodedMessage&& m) {
  if (m.request_id() == 0) {
    log_.warn("dropped a message with request id 0 from '" + ipc::printable_peer(m.peer()) + "'");
    return;
  }
  switch (m.kind()) {
    case Body::HELLO: return on_hello(m);
    case Body::HEARTBEAT: return on_heartbeat(m);
    case Body::PING: return on_ping(m);
    case Body::LOAD_MODEL: return on_load(m);
    case Body::ENSURE_MODEL: return on_ensure(m);
    case Body::RELEASE_MODEL: return on_release(m);
    case Body::UNLOAD_MODEL: return on_unload(m);
    case Body::LIST_MODELS: return on_list_models(m);
    case Body::LIST_SERVICES: return on_list_services(m);
    case Body::GET_STATS: return on_stats(m);
    case Body::SHUTDOWN: return on_shutdown(m);
    case Body::SUBMIT: return on_submit(m);
    case Body::CANCEL: return on_cancel(m);
    case Body::TOKEN_EVENT: return on_token_event(m);
    case Body::PREEMPTED: return on_preempted(m);
    case Body::ERROR_REPLY: {
      if (ModelRuntime* model = model_of_service(m.peer())) {
        return on_model_load_error(*model, ipc::to_status(m.body().getErrorReply().getError()));
      }
      log_.warn("error from '" + ipc::printable_peer(m.peer()) + "': " +
                ipc::to_status(m.body().getErrorReply().getError()).to_string());
      return;
    }
    case Body::ACK:
      return;
    default:
      log_.warn("dropped a '" + std::string(ipc::body_name(m.kind())) + "' message from '" +
                ipc::printable_peer(m.peer()) + "': the kernel does not handle it");
      send_error(std::string(m.peer()), m.request_id(),
                 invalid_argument("the kernel does not handle '" + std::string(ipc::body_name(m.kind())) + "' messages"));
  }
}

void KernelServer::on_hello(const ipc::DecodedMessage& m) {
  auto hello = m.body().getHello();
  const std::string peer(m.peer());
  const std::string name = ipc::to_string(hello.getName());
  if (name != peer) {
    return send_error(peer, m.request_id(),
                      invalid_argument("hello names service '" + name + "' but comes from '" +
                                       ipc::printable_peer(peer) + "'"));
  }
  Status st = supervisor_.heartbeat(name, pid_t(hello.getPid()));
  if (!st.ok()) {
    log_.warn("hello refused: " + st.message());
    return send_error(peer, m.request_id(), st);
  }
  ipc::OutgoingMessage out(m.request_id());
  auto w = out.body().initWelcome();
  w.setKernelPid(uint32_t(::getpid()));
  w.setHeartbeatIntervalMs(config_.heartbeat_interval_ms);
  w.setHeartbeatTimeoutMs(config_.heartbeat_timeout_ms);
  ModelRuntime* model = nullptr;
  if (hello.getKind() == wire::ServiceKind::IO) {
    token_endpoint_ = ipc::to_string(hello.getEndpoint());
    io_up_ = true;
  } else if (hello.getKind() == wire::ServiceKind::MEMORY) {
    memory_endpoint_ = ipc::to_string(hello.getEndpoint());
    memory_up_ = true;
  } else if (hello.getKind() == wire::ServiceKind::MODEL) {
    model = model_of_service(peer);
    if (model == nullptr || !model->arena) {
      return send_error(peer, m.request_id(), not_found("no model service named '" + peer + "' is expected"));
    }
    model->device = hello.getDevice() == wire::Device::CUDA ? Device::kCuda : Device::kCpu;
    auto arena = w.initKvArena();
    arena.setShmName(ipc::as_text(model->arena->name()));
    arena.setBytes(model->arena->bytes());
    ipc::to_wire(model->arena->layout(), arena);  // block size, block counts, window layers
  }
  w.setTokenEndpoint(ipc::as_text(token_endpoint_));
  w.setMemoryEndpoint(ipc::as_text(memory_endpoint_));
  if (Status s = send_to(peer, out); !s.ok()) log_.warn("welcome to '" + peer + "': " + s.to_string());
  log_.info("service '" + peer + "' (pid " + std::to_string(hello.getPid()) + ") registered");
  if (model) on_model_hello(*model);
}

void KernelServer::on_heartbeat(const ipc::DecodedMessage& m) {
  auto hb = m.body().getHeartbeat();
  const std::string peer(m.peer());
  Status st = supervisor_.heartbeat(peer, pid_t(hb.getPid()));
  if (!st.ok()) {
    log_.debug("heartbeat ignored: " + st.message());
    return;
  }
  ModelRuntime* model = model_of_service(peer);
  if (model == nullptr) return;
  const TimePoint now = clock_.now();
  model->active = hb.getActiveSequences();
  model->queued = hb.getQueuedSequences();
  model->kv_blocks_used = hb.getKvBlocksUsed();
  model->kv_blocks_total = hb.getKvBlocksTotal();
  const uint64_t total = hb.getTokensGenerated();
  if (model->last_heartbeat != TimePoint{} && total >= model->tokens_total) {
    double secs = std::chrono::duration<double>(now - model->last_heartbeat).count();
    if (secs > 0) {
      float rate = float(double(total - model->tokens_total) / secs);
      // Smoothed over about a second of heartbeats.
      model->tokens_per_second = model->tokens_per_second == 0 ? rate : 0.7f * model->tokens_per_second + 0.3f * rate;
    }
  }
  model->tokens_total = total;
  model->last_heartbeat = now;
  const EngineCounters counts = ipc::engine_counters_from_wire(hb.getEngineCounters());
  if (model->counts_pid != hb.getPid()) {  // a new service counts from 0
    model->counts_pid = hb.getPid();
    model->counts = {};
  }
  engine_totals_ += counter_growth(model->counts, counts);
  model->counts = counts;
  for (auto p : hb.getProgress()) {
    std::vector<uint32_t> ids = ipc::to_vector(p.getIds());
    Status r = scheduler_.record_tokens(p.getRequestId(), p.getOffset(), ids);
    if (!r.ok() && r.code() != ErrorCode::kNotFound) log_.warn("progress from '" + peer + "': " + r.message());
  }
}

void KernelServer::on_ping(const ipc::DecodedMessage& m) {
  ipc::OutgoingMessage out(m.request_id());
  auto pong = out.body().initPong();
  pong.setKernelPid(uint32_t(::getpid()));
  pong.setReady(io_up_ && memory_up_ && !shutting_down_);
  uint32_t ready = 0;
  for (const auto& r : registry_.list()) ready += r.state == ModelState::kReady;
  pong.setModelsReady(ready);
  pong.setPayload(m.body().getPing().getPayload());
  (void)send_to(std::string(m.peer()), out);
}

void KernelServer::on_list_services(const ipc::DecodedMessage& m) {
  auto services = supervisor_.services();
  ipc::OutgoingMessage out(m.request_id());
  auto list = out.body().initServiceList().initServices(uint32_t(services.size()));
  const TimePoint now = clock_.now();
  for (size_t i = 0; i < services.size(); ++i) {
    const ServiceStatus& s = services[i];
    auto o = list[uint32_t(i)];
    o.setName(ipc::as_text(s.name));
    o.setKind(kind_of_service(s.name));
    o.setPid(uint32_t(s.pid));
    o.setState(wire_state(s.state));
    o.setUptimeMs(s.pid > 0 ? millis_between(s.started_at, now) : 0);
    o.setRestarts(s.restarts);
    o.setLastExit(ipc::as_text(s.last_exit));
  }
  (void)send_to(std::string(m.peer()), out);
}

void KernelServer::on_stats(const ipc::DecodedMessage& m) {
  ipc::OutgoingMessage out(m.request_id());
  auto s = out.body().initStats();
  const auto& c = scheduler_.counters();
  s.setUptimeMs(millis_between(started_at_, clock_.now()));
  s.setMemoryBudgetBytes(registry_.budget_bytes());
  s.setMemoryReservedBytes(registry_.reserved_bytes());
  s.setRequestsAdmitted(c.admitted);
  s.setRequestsCompleted(completed_);
  s.setRequestsCancelled(cancelled_);
  s.setRequestsFailed(failed_);
  s.setRequestsRejected(c.rejected);
  s.setPromptTokens(prompt_tokens_);
  s.setGeneratedTokens(generated_tokens_);
  uint32_t queued = 0;
  for (const auto& [name, model] : models_) {
    if (auto load = scheduler_.load(name)) queued += load->queued;
  }
  s.setQueued(queued);
  s.setRunning(scheduler_.total_running());
  s.setPreemptions(c.preemptions + engine_totals_[EngineCounter::kPreemptions]);
  s.setRedispatches(c.redispatches);
  s.setServiceRestarts(service_restarts_);
  uint64_t blocks = 0;
  for (const auto& [name, model] : models_) {
    if (model.arena) blocks += model.arena->layout().n_blocks;
  }
  s.setKvBlocksTotal(blocks);
  ipc::to_wire(engine_totals_, s.initEngineCounters(uint32_t(kEngineCounterCount)));
  (void)send_to(std::string(m.peer()), out);
}

void KernelServer::on_shutdown(const ipc::DecodedMessage& m) {
  send_ack(std::string(m.peer()), m.request_id());
  begin_shutdown("shutdown requested by '" + ipc::printable_peer(m.peer()) + "'");
}

// ---- supervision ------------------------------------------------------------

void KernelServer::tick() {
  if (config_.watch_pid > 0 && !shutting_down_ && ::kill(config_.watch_pid, 0) != 0 && errno == ESRCH) {
    begin_shutdown("the watched process " + std::to_string(config_.watch_pid) + " is gone");
    return;
  }
  for (const auto& e : supervisor_.tick()) handle_supervisor_event(e);
  unload_expired();
  if (shutting_down_) finish_shutdown_if_done();
  arm_tick_timer();
}

void KernelServer::arm_tick_timer() {
  const TimePoint now = clock_.now();
  TimePoint at = now + std::chrono::milliseconds(250);
  if (auto next = supervisor_.next_deadline()) at = std::min(at, std::max(*next, now));
  tick_timer_.expires_at(at);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void KernelServer::handle_supervisor_event(const SupervisorEvent& e) {
  using K = SupervisorEvent::Kind;
  std::string line = "service '" + e.name + "'";
  if (e.pid) line += " (pid " + std::to_string(e.pid) + ")";
  line += ": " + std::string(event_kind_name(e.kind));
  if (!e.detail.empty()) line += ": " + e.detail;
  if (e.kind == K::kStarted || e.kind == K::kStopped || e.kind == K::kRestarted) {
    log_.info(line);
  } else {
    log_.warn(line);
  }
  if (e.kind == K::kRestarted) ++service_restarts_;
  ModelRuntime* model = model_of_service(e.name);
  switch (e.kind) {
    case K::kHeartbeatMissed:
    case K::kExited:
    case K::kSpawnFailed:
      if (e.name == "io") {
        if (io_up_ && !shutting_down_) cancel_all_requests("the I/O service (llmos-io) went away; retry");
        if (size_t n = residency_.release_holder("io", clock_.now()); n > 0) {
          log_.info("released " + std::to_string(n) + " model reservation(s) of the I/O service");
        }
        io_up_ = false;
      } else if (e.name == "memory") {
        memory_up_ = false;
      } else if (model && e.kind != K::kHeartbeatMissed) {
        on_model_service_exit(*model, e.detail);
      } else if (model) {
        model->service_up = false;
        (void)scheduler_.set_paused(model->name, true);
      }
      break;
    case K::kGaveUp:
      if (model) fail_model(*model, failed("its service failed repeatedly: " + e.detail));
      break;
    case K::kStopped:
      if (model && model->unloading) finish_unload(*model);
      break;
    default:
      break;
  }
}

// ---- shutdown -----------------------------------------------------------------

void KernelServer::begin_shutdown(const std::string& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  log_.info("shutting down: " + why);
  for (uint64_t id : scheduler_.request_ids()) {
    end_request(id, wire::FinishReason::ERROR, failed("llmosd is shutting down"));
  }
  supervisor_.stop_all();
  shutdown_deadline_ = clock_.now() + config_.supervisor.stop_grace + std::chrono::seconds(2);
  tick();
}

void KernelServer::finish_shutdown_if_done() {
  if (!supervisor_.all_stopped() && clock_.now() < shutdown_deadline_) return;
  if (!supervisor_.all_stopped()) log_.warn("some services did not stop in time");
  models_.clear();  // unlinks every KV arena
  log_.info("stopped");
  tick_timer_.cancel();
  signals_.cancel();
  io_.stop();
}

// ---- sending ------------------------------------------------------------------

Status KernelServer::send_to(const std::string& peer, ipc::OutgoingMessage& out) {
  return router_->send_to(peer, out.builder());
}

void KernelServer::send_error(const std::string& peer, uint64_t request_id, const Status& st) {
  ipc::OutgoingMessage out(request_id);
  ipc::make_error_reply(out, st);
  if (Status s = send_to(peer, out); !s.ok()) log_.debug("error reply to '" + peer + "': " + s.message());
}

void KernelServer::send_ack(const std::string& peer, uint64_t request_id) {
  ipc::OutgoingMessage out(request_id);
  out.body().initAck();
  (void)send_to(peer, out);
}

KernelServer::ModelRuntime* KernelServer::model_of_service(std::string_view service) {
  if (service.substr(0, 6) != "model:") return nullptr;
  auto it = models_.find(service.substr(6));
  return it == models_.end() ? nullptr : &it->second;
}

}  // namespace llmos::kernel
