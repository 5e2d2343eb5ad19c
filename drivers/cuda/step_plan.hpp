// StepPlan: the host-side plan of one forward step for the CUDA kernels, built
// in begin_step from the StepBatch. It decides which tokens the tiled prefill
// attention handles (runs of consecutive positions of one sequence) and which
// the paged decode kernel handles (split across long contexts), and packs the
// batch and the plan into one int32 image that begin_step uploads in one copy.
// Plain host code (no CUDA): owned by the driver, used from its one thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "llmos/driver/driver.hpp"

namespace llmos::cuda {

struct PlanOptions {
  int split_len = 512;      // positions per decode work item; 0 = never split
  int prefill_min_run = 8;  // shortest run that goes to the prefill kernel
  int prefill_tile = 32;    // tokens per prefill tile (the kernel's QT)
  int max_splits = 64;      // a longer context gets longer parts instead
  // Small decode batches split further until the decode kernel has about this
  // many blocks (0 = off): blocks = work items * blocks_per_work.
  int target_blocks = 0;
  int blocks_per_work = 1;  // KV heads x head tiles of the model (learned by the driver)
  int min_part = 128;       // never split below this many positions (4 warps x 32)
};

// One block of the decode attention kernel: token `token`, positions
// [p_begin, p_end) of its sequence; n_split > 1 means it writes a partial result
// (at its own index in the work list) that the reduction combines.
struct DecodeWork {
  int32_t token, p_begin, p_end, n_split;
};
// Combine the n_split partials from work[first_work ...] into token's output.
struct ReduceItem {
  int32_t token, first_work, n_split, unused;
};
// Tokens [first_token, first_token + n_tokens) of one sequence at consecutive positions.
struct PrefillTile {
  int32_t first_token, n_tokens, unused0, unused1;
};

// Where each array sits in the packed image, in int32 elements; every offset
// is a multiple of 4 (16 bytes).
struct PlanLayout {
  size_t token_ids = 0, positions = 0, seq_index = 0, kv_slots = 0, output_rows = 0, block_tables = 0;
  size_t window_kv_slots = 0, window_block_tables = 0;  // empty when the batch has no window arrays
  size_t work = 0, reduce = 0, tiles = 0;
  size_t total = 0;
};

class StepPlan {
 public:
  // REQUIRES: the batch passed the driver's checks (indices in range).
  void build(const driver::StepBatch& b, const PlanOptions& o);

  const std::vector<DecodeWork>& work() const { return work_; }
  const std::vector<ReduceItem>& reduce() const { return reduce_; }
  const std::vector<PrefillTile>& tiles() const { return tiles_; }
  const PlanLayout& layout() const { return layout_; }
  // Writes layout().total int32 values to `dst`.
  void pack(const driver::StepBatch& b, int32_t* dst) const;

 private:
  void add_decode_token(int token, int32_t pos, int n_decode, const PlanOptions& o);

  std::vector<DecodeWork> work_;
  std::vector<ReduceItem> reduce_;
  std::vector<PrefillTile> tiles_;
  std::vector<int32_t> decode_tokens_;  // scratch of build()
  PlanLayout layout_;
};

}  // namespace llmos::cuda
