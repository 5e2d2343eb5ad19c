#include "model_service.hpp"

#include <unistd.h>

#include <climits>
#include <thread>

#include "arena_journal.hpp"
#include "llmos/ipc/domain_wire.hpp"
#include "memory_swap_space.hpp"

namespace llmos::model_service {
namespace {

using Body = wire::Envelope::Body;
using namespace std::chrono_literals;

std::vector<int32_t> ids_from_wire(capnp::List<uint32_t>::Reader list) {
  std::vector<int32_t> out;
  out.reserve(list.size());
  for (uint32_t v : list) out.push_back(int32_t(std::min<uint32_t>(v, INT_MAX)));
  return out;
}

}  // namespace

ModelService::ModelService(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log,
                           engine::Model& model, ModelServiceConfig config)
    : io_(io),
      zmq_(zmq),
      log_(log),
      model_(model),
      config_(std::move(config)),
      service_name_("model:" + config_.name),
      heartbeat_timer_(io),
      retain_timer_(io) {}

ModelService::~ModelService() {
  if (engine_fd_) {
    boost::system::error_code ec;
    engine_fd_->cancel(ec);
    engine_fd_->release();  // the mailbox owns the eventfd
  }
}

void ModelService::stop() {
  heartbeat_timer_.cancel();
  retain_timer_.cancel();
  io_.stop();
}

void ModelService::report_load_failure(ipc::Context& zmq, const std::string& kernel_endpoint,
                                       const std::string& service, const Status& why) {
  ipc::SocketOptions o;
  o.routing_id = service;
  auto s = ipc::Socket::connect(zmq, ipc::SocketType::kDealer, kernel_endpoint, o);
  if (!s.ok()) return;
  s->raw().set(zmq::sockopt::linger, 1000);  // let the report leave before we exit
  ipc::OutgoingMessage out(1);
  ipc::make_error_reply(out, why);
  (void)s->send(out.builder());
}

Status ModelService::start(const std::string& kernel_endpoint) {
  ipc::SocketOptions o;
  o.routing_id = service_name_;
  o.send_timeout = 2000ms;
  o.limits.max_message_bytes = 4 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto socket, ipc::Socket::connect(zmq_, ipc::SocketType::kDealer, kernel_endpoint, o));
  kernel_ = std::make_unique<ipc::LoopSocket>(io_, std::move(socket), log_);
  kernel_->start([this](ipc::DecodedMessage&& m) { on_kernel_message(std::move(m)); });
  ipc::OutgoingMessage hello(next_request_id_++);
  auto h = hello.body().initHello();
  h.setKind(wire::ServiceKind::MODEL);
  h.setPid(uint32_t(::getpid()));
  h.setName(ipc::as_text(service_name_));
  h.setModel(ipc::as_text(config_.name));
  h.setDevice(config_.on_cuda ? wire::Device::CUDA : wire::Device::CPU);
  return kernel_->send(hello.builder());
}

void ModelService::on_kernel_message(ipc::DecodedMessage&& m) {
  switch (m.kind()) {
    case Body::WELCOME: return on_welcome(m);
    case Body::DISPATCH:
      if (!welcomed_) return log_.warn("dispatch before welcome: dropped");
      return on_dispatch(m);
    case Body::CANCEL:
      // Also for a request we no longer run: one preempted here may have left
      // KV in the swap space, which the engine then drops.
      if (host_) host_->cancel(m.request_id());
      return;
    case Body::PREEMPT:
      if (host_ && sequences_.count(m.request_id())) host_->preempt(m.request_id());
      return;
    case Body::ERROR_REPLY:
      log_.error("the kernel refused us: " + ipc::to_status(m.body().getErrorReply().getError()).to_string());
      return stop();
    default:
      log_.warn("dropped a '" + std::string(ipc::body_name(m.kind())) + "' message from the kernel");
  }
}

void ModelService::on_welcome(const ipc::DecodedMessage& m) {
  if (welcomed_) return;  // a repeated welcome changes nothing
  auto w = m.body().getWelcome();
  heartbeat_interval_ms_ = std::max<uint32_t>(w.getHeartbeatIntervalMs(), 10);
  auto fail = [&](const Status& st) {
    log_.error(st.to_string());
    ipc::OutgoingMessage out(next_request_id_++);
    ipc::make_error_reply(out, st);
    (void)kernel_->send(out.builder());
    stop();
  };
  const auto& c = model_.config();
  auto a = w.getKvArena();
  KvGeometry shape;
  shape.n_layers = c.n_layers;
  shape.n_kv_heads = c.n_kv_heads;
  shape.head_dim = c.head_dim;
  shape.type = DType::kF16;
  auto arena_layout = ipc::from_wire(a, shape);
  if (!arena_layout.ok()) return fail(arena_layout.status());
  const KvGeometry layout = *arena_layout;
  if (config_.kv_in_arena) {
    auto mapping = ipc::KvArenaMapping::map(ipc::to_string(a.getShmName()), layout);
    if (!mapping.ok()) return fail(mapping.status());
    arena_.emplace(std::move(mapping).value());
  }

  const KvGeometry& kv = layout;
  engine::EngineOptions eo;
  eo.max_seqs = config_.max_seqs;
  eo.ctx_len = config_.ctx;
  eo.kv_tokens = kv.n_blocks * kv.block_size;
  eo.block_size = kv.block_size;
  eo.prefix_cache = config_.prefix_cache;
  auto eng = arena_ ? engine::Engine::create(model_, eo, engine::KvCache::borrow(kv, arena_->kv_data()))
                    : engine::Engine::create(model_, eo);  // device memory, from the driver
  if (!eng.ok()) return fail(eng.status());
  if (config_.swap_to_memory && w.getMemoryEndpoint().size()) {
    MemorySwapConfig sc;
    sc.endpoint = ipc::to_string(w.getMemoryEndpoint());
    sc.routing_id = "swap:" + config_.name + ":" + std::to_string(::getpid());
    sc.model = config_.name;
    auto swap = MemorySwapSpace::connect(zmq_, log_, sc);
    if (swap.ok()) {
      (*eng)->set_swap_space(std::move(swap).value());
    } else {
      log_.warn("no KV swap to llmos-memory (preempted sequences are recomputed): " + swap.status().to_string());
    }
  }
  if (arena_) adopt_arena_table(**eng, layout);
  host_ = std::make_unique<host::EngineHost>(std::move(eng).value(), mailbox_,
                                             host::EngineHostOptions{config_.step_delay_ms});
  if (!left_in_arena_.empty()) {
    // The kernel re-dispatches its requests right after this Welcome; what is
    // still unclaimed after the grace period was not coming back.
    retain_timer_.expires_after(config_.retain_grace);
    retain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (left_in_arena_.empty()) return;  // every one was re-dispatched
      log_.info("freeing the KV of " + std::to_string(left_in_arena_.size()) +
                " sequence(s) left in the arena that were not re-dispatched");
      left_in_arena_.clear();
      host_->release_retained();
    });
  }
  engine_fd_.emplace(io_, mailbox_.signal_fd());
  wait_engine();

  if (w.getTokenEndpoint().size()) {
    if (Status st = connect_tokens(ipc::to_string(w.getTokenEndpoint())); !st.ok()) log_.warn(st.to_string());
  }
  welcomed_ = true;
  const std::string kv_where = arena_ ? ipc::to_string(a.getShmName()) + " (attach " +
                                            std::to_string(arena_->header().attach_count) + ")"
                                      : std::string("device memory");
  log_.info("serving model '" + config_.name + "' on " + model_.driver().info().name + " (ctx " +
            std::to_string(config_.ctx) + ", " + std::to_string(layout.n_blocks) + " KV blocks in " + kv_where + ")");
  send_heartbeat();
  arm_heartbeat();
}

// What a dead predecessor left in the arena's sequence table goes to the
// engine, which adopts it when the kernel re-dispatches those requests; from
// now on the table records this engine's sequences.
void ModelService::adopt_arena_table(engine::Engine& eng, const KvGeometry& layout) {
  ArenaHandover h = attach_arena_journal(eng, arena_->table(), layout);
  left_in_arena_ = std::move(h.kept);
  if (h.found == 0 && h.torn == 0 && h.corrupt == 0) return;
  log_.info("the arena holds the KV of " + std::to_string(h.found) + " sequence(s) (" +
            std::to_string(h.found_tokens) + " tokens) left by a previous llmos-model; kept " +
            std::to_string(left_in_arena_.size()) + " for their re-dispatch; ignored " + std::to_string(h.torn) +
            " torn and " + std::to_string(h.corrupt) + " corrupt slot(s)");
}

Status ModelService::connect_tokens(const std::string& endpoint) {
  if (endpoint == tokens_endpoint_ && tokens_) return ok_status();
  ipc::SocketOptions o;
  o.send_timeout = 0ms;  // never block the IPC thread: llmos-io drains or is gone
  o.send_hwm = 100000;
  o.immediate = false;   // wait in the pipe while llmos-io (re)connects
  o.limits.max_message_bytes = 4 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::connect(zmq_, ipc::SocketType::kPush, endpoint, o));
  tokens_.emplace(std::move(s));
  tokens_endpoint_ = endpoint;
  return ok_status();
}

void ModelService::on_dispatch(const ipc::DecodedMessage& m) {
  const uint64_t id = m.request_id();
  auto d = m.body().getDispatch();
  auto s = d.getRequest();
  if (d.getTokenEndpoint().size()) {
    if (Status st = connect_tokens(ipc::to_string(d.getTokenEndpoint())); !st.ok()) log_.warn(st.to_string());
  }
  if (sequences_.count(id)) {
    log_.warn("request " + std::to_string(id) + " dispatched twice: ignored");
    return;
  }
  engine::GenerationRequest r;
  r.id = id;
  r.prompt = ids_from_wire(s.getPromptIds());
  r.generated = ids_from_wire(s.getGeneratedIds());
  r.sampling = ipc::from_wire(s.getSampling());
  r.max_tokens = int(std::min<uint32_t>(s.getSampling().getMaxTokens(), INT_MAX));
  r.stop_ids = ids_from_wire(s.getSampling().getStopIds());
  r.resume_swapped = d.getSwappedOut();
  Sequence& seq = sequences_[id];
  seq.prompt_tokens = uint32_t(r.prompt.size());
  std::string kv = d.getSwappedOut() ? " (after a preemption; its KV comes back from the swap space)"
                                     : " (its KV is recomputed)";
  if (auto it = left_in_arena_.find(id); it != left_in_arena_.end()) {
    kv = " (adopting the KV of up to " + std::to_string(it->second) + " of its tokens left in the arena)";
    left_in_arena_.erase(it);
    if (r.generated.empty()) log_.info("request " + std::to_string(id) + " restarts" + kv);
  }
  if (!r.generated.empty()) {
    // Resumed after a crash: first the tokens we know were generated, so that
    // llmos-io has them all even if the dead service never sent some; it drops
    // the ones it already streamed.
    log_.info("request " + std::to_string(id) + " resumes after " + std::to_string(r.generated.size()) +
              " generated tokens" + kv);
    seq.step_ids = ipc::to_vector(s.getGeneratedIds());
    send_tokens(id, seq, false, int(wire::FinishReason::NONE), ok_status());
  }
  host_->submit(std::move(r), ipc::from_wire(s.getPriority()));
}

void ModelService::wait_engine() {
  engine_fd_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (ec) return;
                           drain_engine();
                           wait_engine();
                         });
}

void ModelService::drain_engine() {
  mailbox_.clear_signal();
  while (auto refused = mailbox_.pop_refusal()) {
    auto it = sequences_.find(refused->request_id);
    if (it == sequences_.end()) continue;
    send_tokens(refused->request_id, it->second, true, int(wire::FinishReason::ERROR), refused->status);
    sequences_.erase(it);
  }
  std::vector<uint64_t> touched;
  engine::TokenEvent ev;
  while (mailbox_.pop_event(ev)) {
    auto it = sequences_.find(ev.request_id);
    if (it == sequences_.end()) continue;
    Sequence& seq = it->second;
    if (ev.token >= 0) {
      if (seq.step_ids.empty()) touched.push_back(ev.request_id);
      seq.step_ids.push_back(uint32_t(ev.token));
    }
    if (ev.done && ev.reason == FinishReason::kPreempted) {
      send_preempted(ev.request_id, seq, ev.kv_kept);
      sequences_.erase(it);
    } else if (ev.done) {
      send_tokens(ev.request_id, seq, true, int(ipc::to_wire(ev.reason)), ok_status());
      sequences_.erase(it);
    }
  }
  for (uint64_t id : touched) {
    auto it = sequences_.find(id);
    if (it != sequences_.end() && !it->second.step_ids.empty()) {
      send_tokens(id, it->second, false, int(wire::FinishReason::NONE), ok_status());
    }
  }
}

// The engine took a request off at the kernel's request: the tokens it made
// until then go to llmos-io, and the kernel learns all of them and whether
// its KV waits in the swap space, to dispatch it again later.
void ModelService::send_preempted(uint64_t id, Sequence& seq, int kv_kept) {
  if (!seq.step_ids.empty()) send_tokens(id, seq, false, int(wire::FinishReason::NONE), ok_status());
  ipc::OutgoingMessage out(id);
  auto p = out.body().initPreempted();
  p.setCommittedTokens(uint32_t(std::max(kv_kept, 0)));
  p.setSwappedOut(kv_kept > 0);
  auto ids = p.initGeneratedIds(uint32_t(seq.all_ids.size()));
  for (size_t i = 0; i < seq.all_ids.size(); ++i) ids.set(uint32_t(i), seq.all_ids[i]);
  if (Status st = kernel_->send(out.builder()); !st.ok()) {
    log_.warn("preempted request " + std::to_string(id) + " not reported: " + st.message());
  }
}

void ModelService::send_tokens(uint64_t id, Sequence& seq, bool done, int finish_reason, const Status& error) {
  ipc::OutgoingMessage out(id);
  auto ev = out.body().initTokenEvent();
  auto ids = ev.initIds(uint32_t(seq.step_ids.size()));
  for (size_t i = 0; i < seq.step_ids.size(); ++i) ids.set(uint32_t(i), seq.step_ids[i]);
  ev.setOffset(seq.generated);
  ev.setDone(done);
  ev.setFinishReason(static_cast<wire::FinishReason>(finish_reason));
  ev.setPromptTokens(seq.prompt_tokens);
  if (!error.ok()) ipc::set_error(ev.initError(), error);
  if (tokens_) {
    if (Status st = tokens_->send(out.builder()); !st.ok()) {
      log_.warn("tokens of request " + std::to_string(id) + " not delivered: " + st.message());
    }
  }
  if (done) (void)kernel_->send(out.builder());
  seq.all_ids.insert(seq.all_ids.end(), seq.step_ids.begin(), seq.step_ids.end());
  if (seq.unreported.empty()) seq.unreported_offset = seq.generated;
  seq.unreported.insert(seq.unreported.end(), seq.step_ids.begin(), seq.step_ids.end());
  seq.generated += uint32_t(seq.step_ids.size());
  seq.step_ids.clear();
}

void ModelService::send_heartbeat() {
  const auto& c = host_->stats();
  ipc::OutgoingMessage out(next_request_id_++);
  auto hb = out.body().initHeartbeat();
  hb.setKind(wire::ServiceKind::MODEL);
  hb.setPid(uint32_t(::getpid()));
  hb.setActiveSequences(c.running.load());
  hb.setQueuedSequences(c.waiting.load());
  hb.setKvBlocksUsed(c.kv_blocks_used.load());
  hb.setKvBlocksTotal(c.kv_blocks_total.load());
  hb.setTokensGenerated(c.tokens_generated.load());
  ipc::to_wire(c.engine_counters(), hb.initEngineCounters(uint32_t(kEngineCounterCount)));
  uint32_t n = 0;
  for (const auto& [id, seq] : sequences_) n += !seq.unreported.empty();
  auto progress = hb.initProgress(n);
  uint32_t i = 0;
  for (auto& [id, seq] : sequences_) {
    if (seq.unreported.empty()) continue;
    auto p = progress[i++];
    p.setRequestId(id);
    p.setOffset(seq.unreported_offset);
    auto ids = p.initIds(uint32_t(seq.unreported.size()));
    for (size_t k = 0; k < seq.unreported.size(); ++k) ids.set(uint32_t(k), seq.unreported[k]);
    seq.unreported.clear();
  }
  if (Status st = kernel_->send(out.builder()); !st.ok()) log_.warn("heartbeat: " + st.message());
}

void ModelService::arm_heartbeat() {
  heartbeat_timer_.expires_after(std::chrono::milliseconds(heartbeat_interval_ms_));
  heartbeat_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    send_heartbeat();
    arm_heartbeat();
  });
}

}  // namespace llmos::model_service
