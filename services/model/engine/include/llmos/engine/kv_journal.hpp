// KvJournal: where the engine records, at step boundaries, which blocks hold
// the committed KV of each running sequence, so that an engine replacing it
// after a crash adopts that KV (RetainedKv) instead of recomputing it. The
// engine owns its journal and calls it from its own thread only.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace llmos::engine {

class KvJournal {
 public:
  virtual ~KvJournal() = default;
  // The committed KV of `request_id` now covers `tokens` and lives in `blocks`
  // (ceil(tokens / block_size), in order). Until forget(), later calls extend
  // both, except right after an adoption, which may shorten them.
  virtual void commit(uint64_t request_id, std::span<const int32_t> tokens, std::span<const int32_t> blocks) = 0;
  // `request_id` gives its blocks back; called before any of them is reused.
  virtual void forget(uint64_t request_id) = 0;
};

// KV a previous engine committed over the same KV memory: a sequence's tokens
// and the blocks that hold their KV.
struct RetainedKv {
  uint64_t request_id = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;
};

}  // namespace llmos::engine
