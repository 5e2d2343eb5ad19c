#include "step_plan.hpp"

#include <algorithm>
#include <cstring>

namespace llmos::cuda {
namespace {

size_t align4(size_t n) { return (n + 3) / 4 * 4; }

}  // namespace

void StepPlan::add_decode_token(int token, int32_t pos, int n_decode, const PlanOptions& o) {
  const int32_t ctx = pos + 1;
  int32_t n_split = 1;
  if (o.split_len > 0) {
    const int32_t part = (o.split_len + 31) / 32 * 32;
    n_split = (ctx + part - 1) / part;
    if (o.target_blocks > 0) {
      // Few decode tokens would leave the GPU idle: split them further, down to min_part.
      const int64_t per_block = int64_t(n_decode) * std::max(1, o.blocks_per_work);
      const int64_t per_token = (int64_t(o.target_blocks) + per_block - 1) / per_block;
      const int32_t by_len = std::max(1, ctx / std::max(32, o.min_part));
      n_split = std::max<int32_t>(n_split, int32_t(std::min<int64_t>(per_token, by_len)));
    }
    n_split = std::min(n_split, std::max(1, o.max_splits));
  }
  const int32_t part = ((ctx + n_split - 1) / n_split + 31) / 32 * 32;
  n_split = (ctx + part - 1) / part;
  if (n_split > 1) reduce_.push_back({token, int32_t(work_.size()), n_split, 0});
  for (int32_t i = 0; i < n_split; ++i) {
    work_.push_back({token, i * part, std::min(ctx, (i + 1) * part), n_split});
  }
}

void StepPlan::build(const driver::StepBatch& b, const PlanOptions& o) {
  work_.clear();
  reduce_.clear();
  tiles_.clear();
  decode_tokens_.clear();
  const int min_run = std::max(2, o.prefill_min_run);
  for (int t = 0; t < b.n_tokens;) {
    int end = t + 1;
    while (end < b.n_tokens && b.seq_index[end] == b.seq_index[t] && b.positions[end] == b.positions[end - 1] + 1)
      ++end;
    if (end - t >= min_run) {
      for (int s = t; s < end; s += o.prefill_tile) tiles_.push_back({s, std::min(o.prefill_tile, end - s), 0, 0});
    } else {
      for (int s = t; s < end; ++s) decode_tokens_.push_back(s);
    }
    t = end;
  }
  const int n_decode = int(decode_tokens_.size());
  for (int32_t t : decode_tokens_) add_decode_token(t, b.positions[t], n_decode, o);
  PlanLayout& L = layout_;
  size_t at = 0;
  auto take = [&](size_t n) {
    const size_t off = at;
    at += align4(n);
    return off;
  };
  const size_t n = size_t(b.n_tokens);
  L.token_ids = take(n);
  L.positions = take(n);
  L.seq_index = take(n);
  L.kv_slots = take(n);
  L.output_rows = take(size_t(b.n_outputs));
  L.block_tables = take(size_t(b.n_seqs) * size_t(b.max_blocks));
  const bool windowed = b.window_block_tables != nullptr;
  L.window_kv_slots = take(windowed ? n : 0);
  L.window_block_tables = take(windowed ? size_t(b.n_seqs) * size_t(b.max_blocks) : 0);
  L.work = take(work_.size() * 4);
  L.reduce = take(reduce_.size() * 4);
  L.tiles = take(tiles_.size() * 4);
  L.total = at;
}

void StepPlan::pack(const driver::StepBatch& b, int32_t* dst) const {
  const PlanLayout& L = layout_;
  auto put = [&](size_t off, const void* src, size_t count) {
    if (count) std::memcpy(dst + off, src, count * sizeof(int32_t));
  };
  const size_t n = size_t(b.n_tokens);
  put(L.token_ids, b.token_ids, n);
  put(L.positions, b.positions, n);
  put(L.seq_index, b.seq_index, n);
  put(L.kv_slots, b.kv_slots, n);
  put(L.output_rows, b.output_rows, size_t(b.n_outputs));
  put(L.block_tables, b.block_tables, size_t(b.n_seqs) * size_t(b.max_blocks));
  if (b.window_block_tables != nullptr) {
    put(L.window_kv_slots, b.window_kv_slots, n);
    put(L.window_block_tables, b.window_block_tables, size_t(b.n_seqs) * size_t(b.max_blocks));
  }
  put(L.work, work_.data(), work_.size() * 4);
  put(L.reduce, reduce_.data(), reduce_.size() * 4);
  put(L.tiles, tiles_.data(), tiles_.size() * 4);
}

}  // namespace llmos::cuda
