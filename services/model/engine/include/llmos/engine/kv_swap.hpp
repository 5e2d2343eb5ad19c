// KvSwapSpace: where the engine keeps the KV blocks of a sequence it preempts,
// so that the sequence resumes without recomputing them. The engine owns its
// swap space and calls it from its own thread only; implementations: the
// in-process HostKvSwapSpace below, and llmos-memory over IPC (model service).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/engine/kv_cache.hpp"

namespace llmos::engine {

class KvSwapSpace {
 public:
  virtual ~KvSwapSpace() = default;
  // Keeps the KV of `tokens` (a sequence's first tokens, whose KV is in
  // `blocks` of `kv`, ceil(tokens / block_size) of them) under `request_id`,
  // replacing what it held for it. Not ok (overloaded: full; disconnected:
  // unreachable; ...): nothing is kept, and the engine recomputes instead.
  virtual Status save(uint64_t request_id, std::span<const int32_t> tokens, KvCache& kv,
                      std::span<const int32_t> blocks) = 0;
  // Writes what save() kept for `request_id` into `blocks` of `kv` and forgets
  // it. Not ok when it has nothing for exactly these `tokens` in this shape
  // (not_found, invalid_argument) or cannot answer (disconnected); the blocks'
  // contents are then undefined and the engine recomputes them.
  virtual Status load(uint64_t request_id, std::span<const int32_t> tokens, KvCache& kv,
                      std::span<const int32_t> blocks) = 0;
  // Forgets `request_id` (it finished, or a failed load may have left it).
  virtual void drop(uint64_t request_id) = 0;
};

// Swap space in this process's memory, up to `cap_bytes` of KV.
class HostKvSwapSpace final : public KvSwapSpace {
 public:
  explicit HostKvSwapSpace(size_t cap_bytes) : cap_(cap_bytes) {}
  Status save(uint64_t request_id, std::span<const int32_t> tokens, KvCache& kv,
              std::span<const int32_t> blocks) override;
  Status load(uint64_t request_id, std::span<const int32_t> tokens, KvCache& kv,
              std::span<const int32_t> blocks) override;
  void drop(uint64_t request_id) override;
  size_t used_bytes() const { return used_; }
  size_t entries() const { return saved_.size(); }

 private:
  struct Saved {
    std::vector<int32_t> tokens;
    size_t block_bytes = 0;
    std::vector<std::byte> data;  // [blocks][block_bytes]
  };
  size_t cap_;
  size_t used_ = 0;
  std::map<uint64_t, Saved> saved_;
};

}  // namespace llmos::engine
