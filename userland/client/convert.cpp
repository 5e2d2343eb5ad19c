#include "convert.hpp"

#include <unistd.h>

#include <atomic>

namespace llmos::client {
namespace {

std::string service_state(wire::ServiceState s) {
  switch (s) {
    case wire::ServiceState::STARTING: return "starting";
    case wire::ServiceState::RUNNING: return "running";
    case wire::ServiceState::RESTARTING: return "restarting";
    case wire::ServiceState::STOPPED: return "stopped";
  }
  return "unknown";
}

std::string service_kind(wire::ServiceKind k) {
  switch (k) {
    case wire::ServiceKind::KERNEL: return "kernel";
    case wire::ServiceKind::MODEL: return "model";
    case wire::ServiceKind::MEMORY: return "memory";
    case wire::ServiceKind::IO: return "io";
    case wire::ServiceKind::CLIENT: return "client";
  }
  return "unknown";
}

}  // namespace

ModelInfo from_wire(wire::ModelInfo::Reader m) {
  ModelInfo o;
  o.name = ipc::to_string(m.getName());
  o.path = ipc::to_string(m.getPath());
  o.state = ipc::from_wire(m.getState());
  o.failure = ipc::to_string(m.getFailure());
  o.device = m.getDevice() == wire::Device::CUDA ? "cuda" : "cpu";
  o.ctx = m.getCtx();
  o.threads = m.getThreads();
  o.weights_bytes = m.getWeightsBytes();
  o.kv_bytes = m.getKvBytes();
  o.active = m.getActiveSequences();
  o.queued = m.getQueuedSequences();
  o.tokens_per_second = m.getTokensPerSecond();
  o.service_pid = m.getServicePid();
  o.vocab_size = m.getVocabSize();
  o.last_use_unix_ms = m.getLastUseUnixMs();
  o.expires_unix_ms = m.getExpiresUnixMs();
  o.keep_alive_ms = m.getKeepAliveMs();
  o.chat_template_file = ipc::to_string(m.getChatTemplateFile());
  return o;
}

ServiceInfo from_wire(wire::ServiceInfo::Reader s) {
  ServiceInfo o;
  o.name = ipc::to_string(s.getName());
  o.kind = service_kind(s.getKind());
  o.pid = s.getPid();
  o.state = service_state(s.getState());
  o.uptime_ms = s.getUptimeMs();
  o.restarts = s.getRestarts();
  o.last_exit = ipc::to_string(s.getLastExit());
  return o;
}

SystemStats from_wire(wire::Stats::Reader s) {
  SystemStats o;
  o.uptime_ms = s.getUptimeMs();
  o.budget_bytes = s.getMemoryBudgetBytes();
  o.reserved_bytes = s.getMemoryReservedBytes();
  o.admitted = s.getRequestsAdmitted();
  o.completed = s.getRequestsCompleted();
  o.cancelled = s.getRequestsCancelled();
  o.failed = s.getRequestsFailed();
  o.rejected = s.getRequestsRejected();
  o.prompt_tokens = s.getPromptTokens();
  o.generated_tokens = s.getGeneratedTokens();
  o.queued = s.getQueued();
  o.running = s.getRunning();
  o.preemptions = s.getPreemptions();
  o.redispatches = s.getRedispatches();
  o.service_restarts = s.getServiceRestarts();
  o.kv_blocks_total = s.getKvBlocksTotal();
  o.engine = ipc::engine_counters_from_wire(s.getEngineCounters());
  return o;
}

PongInfo from_wire(wire::Pong::Reader p) { return PongInfo{p.getKernelPid(), p.getReady(), p.getModelsReady()}; }

SessionInfo from_wire(wire::SessionInfo::Reader s) {
  return SessionInfo{ipc::to_string(s.getName()), ipc::to_string(s.getModel()), s.getTokens(), s.getBytes(),
                     s.getSavedUnixMs()};
}

Result<ipc::DecodedMessage> call(ipc::Socket& socket, ipc::OutgoingMessage& out, std::chrono::milliseconds timeout,
                                 const std::string& what,
                                 const std::function<bool(const ipc::DecodedMessage&)>& interim) {
  using Clock = std::chrono::steady_clock;
  const uint64_t id = out.envelope().getRequestId();
  if (Status st = socket.send(out.builder()); !st.ok()) {
    return Status(st.code(), what + " is not reachable: " + st.message());
  }
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return disconnected(what + " did not answer within " + std::to_string(timeout.count()) + " ms");
    }
    auto m = socket.receive(left);
    if (!m.ok()) {
      if (m.status().code() == ErrorCode::kInvalidArgument) continue;  // a malformed answer: dropped
      return disconnected(what + " did not answer within " + std::to_string(timeout.count()) + " ms");
    }
    if (m->request_id() != id) continue;  // a late answer to an earlier call
    if (m->kind() == wire::Envelope::Body::ERROR_REPLY) return ipc::to_status(m->body().getErrorReply().getError());
    if (interim && interim(*m)) {
      deadline = Clock::now() + timeout;
      continue;
    }
    return m;
  }
}

std::string client_routing_id() {
  static std::atomic<uint32_t> counter{0};
  return "client:" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace llmos::client
