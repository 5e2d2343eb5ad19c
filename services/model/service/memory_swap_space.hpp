// MemorySwapSpace: the engine's swap space in llmos-memory. save() sends
// SwapOut (the blocks inline, keyed by the request id) without waiting; load()
// sends SwapIn (release) and waits at most `timeout` for the snapshot, which it
// checks (tokens, shape, sizes) before writing a byte; drop() sends SwapDrop.
// After a swap-in that timed out it refuses everything for `pause`, so a stuck
// llmos-memory stalls the engine once, not at every resume. Owns its DEALER
// socket: used by the engine thread only, after construction.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "llmos/engine/kv_swap.hpp"
#include "llmos/ipc/log.hpp"
#include "llmos/ipc/socket.hpp"

namespace llmos::model_service {

struct MemorySwapConfig {
  std::string endpoint;    // llmos-memory's ROUTER (Welcome.memoryEndpoint)
  std::string routing_id;  // unique per process: "swap:<model>:<pid>"
  std::string model;       // KvSnapshot.model
  std::chrono::milliseconds timeout{2000};  // a swap-in waits this long, then recomputes
  std::chrono::milliseconds pause{10000};   // then swapping stops for this long
  int64_t max_message_bytes = 64 << 20;     // memory.sock's cap: bigger swaps are refused here
};

class MemorySwapSpace final : public engine::KvSwapSpace {
 public:
  // REQUIRES: `zmq` and `log` outlive the swap space.
  static Result<std::unique_ptr<MemorySwapSpace>> connect(ipc::Context& zmq, const ipc::Logger& log,
                                                          MemorySwapConfig config);

  Status save(uint64_t request_id, std::span<const int32_t> tokens, engine::KvCache& kv,
              std::span<const int32_t> blocks) override;
  Status load(uint64_t request_id, std::span<const int32_t> tokens, engine::KvCache& kv,
              std::span<const int32_t> blocks) override;
  void drop(uint64_t request_id) override;

 private:
  MemorySwapSpace(ipc::Socket socket, const ipc::Logger& log, MemorySwapConfig config)
      : socket_(std::move(socket)), log_(log), config_(std::move(config)) {}
  // Reads replies that are already there (acks, refusals of earlier swap-outs).
  void drain();
  void note_stray(const ipc::DecodedMessage& m);
  Status restore(uint64_t request_id, const ipc::DecodedMessage& m, std::span<const int32_t> tokens,
                 engine::KvCache& kv, std::span<const int32_t> blocks);

  Status paused() const;  // ok unless a recent swap-in timed out

  ipc::Socket socket_;
  const ipc::Logger& log_;
  MemorySwapConfig config_;
  std::chrono::steady_clock::time_point paused_until_{};
};

}  // namespace llmos::model_service
