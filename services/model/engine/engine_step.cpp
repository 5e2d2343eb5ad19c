// Engine::step: schedule -> forward -> sample -> emit. The scheduler's plan
// is executed as it says: the swap copies first (a swap-out reads blocks the
// step may give to others), then one forward step over the planned chunks,
// then one sample per sequence that wanted logits; each result goes back to
// the scheduler.
#include <algorithm>

#include "llmos/engine/engine.hpp"

namespace llmos::engine {

void Engine::step(std::vector<TokenEvent>& events) {
  const StepPlan& plan = scheduler_.schedule();
  run_swaps(plan, events);
  if (plan.n_tokens > 0) {
    forward(plan);
    scheduler_.computed();
    sample_and_emit(plan, events);
  }
  scheduler_.end_step();
}

void Engine::run_swaps(const StepPlan& plan, std::vector<TokenEvent>& events) {
  for (const auto& op : plan.swap_outs) {
    LLMOS_ASSERT(swap_ != nullptr);  // planned only with a swap space
    const Status st = swap_->save(op.seq->id(), op.seq->tokens().first(size_t(op.n_tokens)), *kv_, plan.blocks(op));
    scheduler_.swapped_out(op, st.ok());
  }
  for (const auto& op : plan.swap_ins) {
    LLMOS_ASSERT(swap_ != nullptr);
    const Status st =
        swap_->load(op.seq->id(), op.seq->tokens().first(size_t(op.n_tokens)), *kv_, op.seq->blocks().blocks());
    if (!st.ok()) swap_->drop(op.seq->id());  // a load that timed out may still leave it there
    scheduler_.swapped_in(op, st.ok());
  }
  for (uint64_t id : plan.dropped_swaps) {
    if (swap_) swap_->drop(id);
  }
  for (const auto& e : plan.ended) {
    TokenEvent ev{e.id, -1, true, e.taken_off ? FinishReason::kPreempted : FinishReason::kCancelled};
    ev.kv_kept = e.kv_kept;  // the kernel counts a take-off as a preemption: it asked for it
    events.push_back(ev);
    forget(e.tag);
  }
}

// The planned chunks as one flat batch: each token with its sequence, its
// position and the KV slot it writes (and its slot in the sliding-window
// layers' blocks, when the model has them); logits for each chunk that wants them.
void Engine::forward(const StepPlan& plan) {
  const bool windowed = !window_block_tables_.empty();
  int n = 0, n_out = 0;
  for (size_t row = 0; row < plan.chunks.size(); ++row) {
    const StepPlan::Chunk& c = plan.chunks[row];
    const Sequence& s = *c.seq;
    const auto tokens = s.tokens();
    for (int j = 0; j < c.n_tokens; ++j) {
      const int pos = s.n_cached() + j;
      token_ids_[size_t(n)] = tokens[size_t(pos)];
      positions_[size_t(n)] = pos;
      seq_index_[size_t(n)] = int32_t(row);
      kv_slots_[size_t(n)] = s.blocks().slot(pos);
      if (windowed) window_kv_slots_[size_t(n)] = s.window_blocks().slot(pos);
      ++n;
    }
    int32_t* table = &block_tables_[row * size_t(max_blocks_)];
    const auto blocks = s.blocks().blocks();
    std::fill(table, table + max_blocks_, -1);
    std::copy(blocks.begin(), blocks.end(), table);
    if (windowed) {
      int32_t* wtable = &window_block_tables_[row * size_t(max_blocks_)];
      const auto wblocks = s.window_blocks().blocks();  // -1 before the window
      std::fill(wtable, wtable + max_blocks_, -1);
      std::copy(wblocks.begin(), wblocks.end(), wtable);
    }
    if (c.wants_logits) output_rows_[size_t(n_out++)] = n - 1;
  }
  driver::StepBatch batch;
  batch.n_tokens = n;
  batch.token_ids = token_ids_.data();
  batch.positions = positions_.data();
  batch.seq_index = seq_index_.data();
  batch.kv_slots = kv_slots_.data();
  batch.n_seqs = int(plan.chunks.size());
  batch.max_blocks = max_blocks_;
  batch.block_tables = block_tables_.data();
  batch.n_outputs = n_out;
  batch.output_rows = output_rows_.data();
  if (windowed) {
    batch.window_kv_slots = window_kv_slots_.data();
    batch.window_block_tables = window_block_tables_.data();
  }
  model_.forward(batch, *kv_, logits_.data());
}

// One token per sequence that wanted logits; a stop token ends it without
// being emitted, max_tokens or the context end it after.
void Engine::sample_and_emit(const StepPlan& plan, std::vector<TokenEvent>& events) {
  const size_t n_vocab = size_t(model_.config().n_vocab);
  size_t o = 0;
  for (const auto& c : plan.chunks) {
    if (!c.wants_logits) continue;
    Sequence& s = *c.seq;
    Generation& g = *generations_[s.tag()];
    std::span<float> row(&logits_[o++ * n_vocab], n_vocab);
    const int32_t tok = g.sampler.sample(row, s.tokens());
    TokenEvent ev{s.id(), tok, false, FinishReason::kNone};
    if (std::find(g.stop_ids.begin(), g.stop_ids.end(), tok) != g.stop_ids.end()) {
      ev = TokenEvent{s.id(), -1, true, FinishReason::kStop};
    } else {
      scheduler_.append(s, tok);
      if (s.n_generated() >= g.max_tokens) {
        ev.done = true;
        ev.reason = FinishReason::kLength;
      } else if (int(s.tokens().size()) >= options_.ctx_len) {
        ev.done = true;
        ev.reason = FinishReason::kContext;
      }
    }
    events.push_back(ev);
    if (ev.done) {
      scheduler_.finish(s);
      forget(s.tag());
    }
  }
}

}  // namespace llmos::engine
