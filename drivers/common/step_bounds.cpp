// StepBounds (step_bounds.hpp): StepBatch validation shared by the drivers.
#include "llmos/driver/step_bounds.hpp"

#include <algorithm>
#include <cstdint>

namespace llmos::driver {

void StepBounds::begin_step(const StepBatch& b) {
  LLMOS_REQUIRE(b.n_tokens >= 0 && b.n_seqs >= 0 && b.n_outputs >= 0, "negative batch size");
  batch_ = b;
  LLMOS_REQUIRE((b.window_kv_slots == nullptr) == (b.window_block_tables == nullptr),
                "window kv slots without window block tables, or the reverse");
  seq_max_pos_.assign(size_t(b.n_seqs), -1);
  seq_min_pos_.assign(size_t(b.n_seqs), INT32_MAX);
  max_slot_ = -1;
  max_window_slot_ = -1;
  for (int t = 0; t < b.n_tokens; ++t) {
    const int32_t s = b.seq_index[t];
    LLMOS_REQUIRE(s >= 0 && s < b.n_seqs, "seq_index out of range");
    LLMOS_REQUIRE(b.positions[t] >= 0, "negative position");
    LLMOS_REQUIRE(b.kv_slots[t] >= 0, "negative kv slot");
    seq_max_pos_[size_t(s)] = std::max(seq_max_pos_[size_t(s)], b.positions[t]);
    seq_min_pos_[size_t(s)] = std::min(seq_min_pos_[size_t(s)], b.positions[t]);
    max_slot_ = std::max(max_slot_, b.kv_slots[t]);
    if (b.window_kv_slots != nullptr) {
      LLMOS_REQUIRE(b.window_kv_slots[t] >= 0, "negative window kv slot");
      max_window_slot_ = std::max(max_window_slot_, b.window_kv_slots[t]);
    }
  }
  for (int i = 0; i < b.n_outputs; ++i)
    LLMOS_REQUIRE(b.output_rows[i] >= 0 && b.output_rows[i] < b.n_tokens, "output row out of range");
}

void StepBounds::check_kv_store(const KvGeometry& L, int layer, int window) const {
  LLMOS_REQUIRE(L.type == DType::kF16 || L.type == DType::kF32, "KV cache must be f16 or f32");
  LLMOS_REQUIRE(layer >= 0 && layer < L.n_layers, "layer out of range");
  LLMOS_REQUIRE(window >= 0, "negative attention window");
  LLMOS_REQUIRE(!L.is_window_layer(layer) || uses_window_tables(window),
                "a window layer's planes are addressed by the window tables, which the step lacks");
  const int32_t max_slot = uses_window_tables(window) ? max_window_slot_ : max_slot_;
  LLMOS_REQUIRE(int64_t(max_slot) < int64_t(L.layer_blocks(layer)) * L.block_size, "kv slot past the cache");
}

void StepBounds::check_attention(const KvGeometry& L, int layer, int n_heads, int window) const {
  LLMOS_REQUIRE(L.type == DType::kF16 || L.type == DType::kF32, "KV cache must be f16 or f32");
  LLMOS_REQUIRE(layer >= 0 && layer < L.n_layers, "layer out of range");
  LLMOS_REQUIRE(L.n_kv_heads > 0 && n_heads % L.n_kv_heads == 0, "n_heads not a multiple of n_kv_heads");
  LLMOS_REQUIRE(window >= 0, "negative attention window");
  LLMOS_REQUIRE(!L.is_window_layer(layer) || uses_window_tables(window),
                "a window layer's planes are addressed by the window tables, which the step lacks");
  const StepBatch& b = batch_;
  const bool windowed = uses_window_tables(window);
  const int32_t n_blocks = L.layer_blocks(layer);
  // Every block a token reads must be mapped and inside the cache; with the
  // window tables, only those from the window of the sequence's first token.
  for (int s = 0; s < b.n_seqs; ++s) {
    const int32_t max_pos = seq_max_pos_[size_t(s)];
    if (max_pos < 0) continue;
    LLMOS_REQUIRE(max_pos / L.block_size < b.max_blocks, "position past the block table");
    const int32_t* table = (windowed ? b.window_block_tables : b.block_tables) + int64_t(s) * b.max_blocks;
    const int32_t first = windowed ? std::max(0, seq_min_pos_[size_t(s)] - window + 1) : 0;
    for (int i = first / L.block_size; i <= max_pos / L.block_size; ++i)
      LLMOS_REQUIRE(table[i] >= 0 && table[i] < n_blocks, "block table entry unmapped or past the cache");
  }
}

void StepBounds::check_embed(const Weight& table) const {
  LLMOS_REQUIRE(table.cols % dtype_block_elems(table.type) == 0, "embedding row not whole blocks");
  for (int t = 0; t < batch_.n_tokens; ++t)
    LLMOS_REQUIRE(batch_.token_ids[t] >= 0 && batch_.token_ids[t] < table.rows, "token id out of range");
}

}  // namespace llmos::driver
