#include "memory_swap_space.hpp"

#include <algorithm>

#include "llmos/ipc/domain_wire.hpp"

namespace llmos::model_service {
namespace {

using Body = wire::Envelope::Body;
using Clock = std::chrono::steady_clock;

std::string req(uint64_t id) { return "request " + std::to_string(id); }

// A snapshot's block shape is this cache's (its block count aside).
bool same_shape(wire::KvShape::Reader s, const engine::KvCache& kv) {
  auto shape = ipc::from_wire(s);
  KvGeometry mine = kv.layout();
  mine.n_blocks = 1;
  mine.n_window_blocks = mine.n_window_layers() > 0 ? 1 : 0;
  return shape.ok() && *shape == mine;
}

}  // namespace

Result<std::unique_ptr<MemorySwapSpace>> MemorySwapSpace::connect(ipc::Context& zmq, const ipc::Logger& log,
                                                                  MemorySwapConfig config) {
  ipc::SocketOptions o;
  o.routing_id = config.routing_id;
  o.send_timeout = std::chrono::milliseconds(0);  // never block the engine: a swap that cannot leave is refused
  o.limits.max_message_bytes = config.max_message_bytes;
  o.limits.max_data_bytes = uint32_t(std::min<int64_t>(config.max_message_bytes, UINT32_MAX));
  LLMOS_ASSIGN_OR_RETURN(auto socket, ipc::Socket::connect(zmq, ipc::SocketType::kDealer, config.endpoint, o));
  return std::unique_ptr<MemorySwapSpace>(new MemorySwapSpace(std::move(socket), log, std::move(config)));
}

Status MemorySwapSpace::paused() const {
  if (Clock::now() >= paused_until_) return ok_status();
  return disconnected("swapping to llmos-memory is paused: a swap-in timed out");
}

Status MemorySwapSpace::save(uint64_t request_id, std::span<const int32_t> tokens, engine::KvCache& kv,
                             std::span<const int32_t> blocks) {
  drain();
  LLMOS_RETURN_IF_ERROR(paused());
  const uint64_t bytes = uint64_t(blocks.size()) * (kv.block_bytes() + 8) + tokens.size() * 4 + 1024;
  if (int64_t(bytes) > config_.max_message_bytes) {
    return invalid_argument("the KV of " + req(request_id) + " (" + std::to_string(bytes) +
                            " bytes) does not fit one message to llmos-memory");
  }
  ipc::OutgoingMessage out(request_id);
  auto snap = out.body().initSwapOut().initSnapshot();
  snap.setModel(ipc::as_text(config_.model));
  auto ids = snap.initTokenIds(uint32_t(tokens.size()));
  for (size_t i = 0; i < tokens.size(); ++i) ids.set(uint32_t(i), uint32_t(tokens[i]));
  ipc::to_wire(kv.layout(), snap.initShape());
  auto data = snap.initData().initInline(uint32_t(blocks.size()));
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto d = data.init(uint32_t(i), kv.block_bytes());
    kv.read_block(blocks[i], std::span(reinterpret_cast<std::byte*>(d.begin()), d.size()));
  }
  Status st = socket_.send(out.builder());
  if (!st.ok()) log_.warn("swap-out of " + req(request_id) + " to llmos-memory failed, it will be recomputed: " + st.message());
  return st;
}

Status MemorySwapSpace::load(uint64_t request_id, std::span<const int32_t> tokens, engine::KvCache& kv,
                             std::span<const int32_t> blocks) {
  drain();
  auto fallback = [&](Status st) {
    log_.warn("swap-in of " + req(request_id) + " from llmos-memory failed, recomputing " +
              std::to_string(tokens.size()) + " tokens: " + st.message());
    return st;
  };
  if (Status st = paused(); !st.ok()) return st;  // logged when the pause began
  ipc::OutgoingMessage out(request_id);
  out.body().initSwapIn().setRelease(true);
  if (Status st = socket_.send(out.builder()); !st.ok()) return fallback(st);
  const auto deadline = Clock::now() + config_.timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto m = left.count() > 0 ? socket_.receive(left) : Result<ipc::DecodedMessage>(disconnected("late"));
    if (!m.ok()) {
      if (m.status().code() == ErrorCode::kInvalidArgument) continue;  // malformed: dropped, logged
      paused_until_ = Clock::now() + config_.pause;
      return fallback(disconnected("no answer within " + std::to_string(config_.timeout.count()) +
                                   " ms; swapping paused for " + std::to_string(config_.pause.count()) + " ms"));
    }
    if (m->request_id() != request_id || m->kind() == Body::ACK) {
      note_stray(*m);  // an ack of a swap-out or drop, or another request's
      continue;
    }
    if (m->kind() == Body::ERROR_REPLY) return fallback(ipc::to_status(m->body().getErrorReply().getError()));
    if (m->kind() != Body::KV_SNAPSHOT) {
      note_stray(*m);
      continue;
    }
    Status st = restore(request_id, *m, tokens, kv, blocks);
    if (st.code() == ErrorCode::kNotFound) continue;  // the answer to an earlier swap-in that timed out
    if (!st.ok()) return fallback(st);
    log_.debug("swapped in " + std::to_string(tokens.size()) + " tokens of " + req(request_id));
    return st;
  }
}

// not_found: a snapshot of other tokens (a late answer to an earlier swap-in);
// invalid_argument: this request's, but not in a shape this engine can use.
Status MemorySwapSpace::restore(uint64_t request_id, const ipc::DecodedMessage& m, std::span<const int32_t> tokens,
                                engine::KvCache& kv, std::span<const int32_t> blocks) {
  auto snap = m.body().getKvSnapshot();
  auto ids = snap.getTokenIds();
  bool same_tokens = ids.size() == tokens.size();
  for (uint32_t i = 0; same_tokens && i < ids.size(); ++i) same_tokens = ids[i] == uint32_t(tokens[i]);
  if (!same_tokens) return not_found("the snapshot of " + req(request_id) + " covers other tokens");
  if (!same_shape(snap.getShape(), kv)) {
    return invalid_argument("the snapshot of " + req(request_id) + " has another KV shape");
  }
  if (!snap.getData().isInline() || snap.getData().getInline().size() != blocks.size()) {
    return invalid_argument("the snapshot of " + req(request_id) + " does not hold " +
                            std::to_string(blocks.size()) + " inline blocks");
  }
  auto data = snap.getData().getInline();
  for (uint32_t i = 0; i < data.size(); ++i) {
    if (data[i].size() != kv.block_bytes()) {
      return invalid_argument("block " + std::to_string(i) + " of the snapshot of " + req(request_id) + " is " +
                              std::to_string(data[i].size()) + " bytes, not " + std::to_string(kv.block_bytes()));
    }
  }
  for (uint32_t i = 0; i < data.size(); ++i) {
    kv.write_block(blocks[i], std::span(reinterpret_cast<const std::byte*>(data[i].begin()), data[i].size()));
  }
  return ok_status();
}

void MemorySwapSpace::drop(uint64_t request_id) {
  drain();
  ipc::OutgoingMessage out(request_id);
  out.body().initSwapDrop();
  (void)socket_.send(out.builder());  // best effort: a swap left behind only takes space until llmos-memory restarts
}

void MemorySwapSpace::drain() {
  for (;;) {
    auto m = socket_.receive(std::chrono::milliseconds(0));
    if (!m.ok()) {
      if (m.status().code() == ErrorCode::kInvalidArgument) continue;
      return;
    }
    note_stray(*m);
  }
}

void MemorySwapSpace::note_stray(const ipc::DecodedMessage& m) {
  if (m.kind() == Body::ERROR_REPLY) {
    Status st = ipc::to_status(m.body().getErrorReply().getError());
    // A refused swap-out: its swap-in will find nothing and recompute.
    if (st.code() != ErrorCode::kNotFound) log_.warn("llmos-memory refused a swap of " + req(m.request_id()) + ": " + st.message());
  }
}

}  // namespace llmos::model_service
