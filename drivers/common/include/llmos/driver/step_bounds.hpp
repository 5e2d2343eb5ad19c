// StepBounds: the checks every driver runs on a StepBatch, written once for the
// CPU and CUDA drivers so both reject the same batches with the same messages.
// begin_step validates the batch and records its bounds; the ops check their
// arguments against them. A failed check is a caller's bug (LLMOS_REQUIRE: abort).
// Owned by one driver and used from its engine thread; not thread-safe.
#pragma once
#include <cstdint>
#include <vector>

#include "llmos/driver/driver.hpp"

namespace llmos::driver {

class StepBounds {
 public:
  // REQUIRES: sizes non-negative; every seq_index in [0, n_seqs); positions and
  // kv_slots (and window_kv_slots) non-negative; every output row in
  // [0, n_tokens). Keeps a copy of
  // the batch (its arrays are the caller's, valid until the next begin_step).
  void begin_step(const StepBatch& batch);

  // REQUIRES of kv_store: an f16 or f32 cache, layer in range, the window
  // tables for a window layer of the geometry (its planes hold n_window_blocks),
  // every kv slot of the step (the window slots for window > 0, when the batch
  // has them) inside the layer's planes.
  void check_kv_store(const KvGeometry& layout, int layer, int window) const;
  // REQUIRES of attention: as kv_store's first three, n_heads a multiple of
  // n_kv_heads, and every block a token reads (within its window, in the
  // window tables, when window > 0 and the batch has them) mapped and inside
  // the layer's planes.
  void check_attention(const KvGeometry& layout, int layer, int n_heads, int window) const;
  // Whether a layer of this window reads the batch's window slots and tables.
  bool uses_window_tables(int window) const { return window > 0 && batch_.window_block_tables != nullptr; }
  // REQUIRES of embed: whole blocks per row, every token id a row of `table`.
  void check_embed(const Weight& table) const;

 private:
  StepBatch batch_;
  std::vector<int32_t> seq_max_pos_;  // [n_seqs] highest position of the step, -1 if none
  std::vector<int32_t> seq_min_pos_;  // [n_seqs] lowest position of the step
  int32_t max_slot_ = -1;             // highest kv slot of the step, -1 if none
  int32_t max_window_slot_ = -1;      // highest window kv slot of the step, -1 if none
};

}  // namespace llmos::driver
