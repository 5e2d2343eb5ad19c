// BatchScheduler::schedule: the decisions of one step. Cancellations and
// take-offs first; then every decoding sequence takes one token (preempting
// the newest when blocks run out); the rest of the token budget goes to prompt
// chunks, of running sequences first, then of newly admitted ones.
#include <algorithm>

#include "llmos/engine/batch_scheduler.hpp"

namespace llmos::engine {

void BatchScheduler::add_chunk(Sequence& s, int n_tokens) {
  const bool wants_logits = s.n_cached_ + n_tokens == int(s.tokens_.size());
  plan_.chunks.push_back(StepPlan::Chunk{&s, n_tokens, wants_logits});
  plan_.n_tokens += n_tokens;
  plan_.n_outputs += wants_logits ? 1 : 0;
}

// As much of the sequence's pending tokens as the budget and the blocks
// allow (blocks only the prefix cache or retained KV hold make room; nothing
// is preempted for a prompt). false when nothing fits.
bool BatchScheduler::schedule_prompt(Sequence& s) {
  int chunk = std::min(int(s.tokens_.size()) - s.n_cached_, options_.max_batch_tokens - plan_.n_tokens);
  if (chunk <= 0) return false;
  while (!reserve_kv(s, s.n_cached_ + chunk) && reclaim()) {
  }
  chunk = std::min(chunk, kv_capacity(s) - s.n_cached_);
  if (chunk <= 0) return false;
  add_chunk(s, chunk);
  return true;
}

const StepPlan& BatchScheduler::schedule() {
  ++step_;
  plan_.chunks.clear();
  plan_.n_tokens = 0;
  plan_.n_outputs = 0;
  plan_.swap_outs.clear();
  plan_.swap_out_blocks.clear();
  plan_.swap_ins.clear();
  plan_.preempted.clear();
  plan_.ended.clear();
  plan_.dropped_swaps.clear();

  // Cancellations and take-offs take effect between steps.
  for (uint64_t id : cancelling_) {
    for (auto& s : running_) {
      if (s && s->id_ == id) end(s, /*taken_off=*/false);
    }
    for (auto& s : waiting_) {
      if (s && s->id_ == id) end(s, /*taken_off=*/false);
    }
  }
  for (uint64_t id : cancelling_) {  // taken off and never resumed
    const size_t before = parked_.size();
    std::erase_if(parked_, [&](const SequencePtr& p) { return p->id_ == id; });
    if (parked_.size() < before) plan_.dropped_swaps.push_back(id);
  }
  cancelling_.clear();
  for (uint64_t id : taking_off_) {
    for (auto& s : running_) {
      if (s && s->id_ == id) end(s, /*taken_off=*/true);
    }
    for (auto& s : waiting_) {
      if (s && s->id_ == id) end(s, /*taken_off=*/true);
    }
  }
  taking_off_.clear();
  std::erase(running_, nullptr);
  std::erase(waiting_, nullptr);

  // Decoding sequences first, one token each, in admission order.
  const int budget = options_.max_batch_tokens;
  for (size_t i = 0; i < running_.size() && plan_.n_tokens < budget; ++i) {
    Sequence& s = *running_[i];
    if (s.state_ != SequenceState::kDecoding) continue;
    while (!reserve_kv(s, s.n_cached_ + 1)) {
      if (!reclaim() && !preempt_newest(&s)) break;
    }
    if (kv_capacity(s) < s.n_cached_ + 1) continue;  // cannot happen: each pool holds a sequence's need
    add_chunk(s, 1);
  }
  // Then prompt chunks: running sequences part-way through theirs, then
  // newly admitted ones.
  for (size_t i = 0; i < running_.size() && plan_.n_tokens < budget; ++i) {
    Sequence& s = *running_[i];
    if (s.state_ == SequenceState::kPrefilling) schedule_prompt(s);
  }
  while (!waiting_.empty() && plan_.n_tokens < budget && int(running_.size()) < options_.max_seqs) {
    Sequence& s = *waiting_.front();
    if (s.preempted_at_ == step_) break;  // it just gave its blocks up; not back before the next step
    reuse_prefix(s);
    // Admit only when the whole prompt's blocks are free, so admission never
    // forces a preemption of work already running.
    const int need_blocks = (int(s.tokens_.size()) + options_.block_size - 1) / options_.block_size -
                            int(s.blocks_.blocks().size());
    while (pool_.n_free() < need_blocks && reclaim()) {
    }
    if (pool_.n_free() < need_blocks) break;
    if (options_.window > 0 && window_pool_.n_free() < std::min(need_blocks, min_window_blocks(options_))) break;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    if (s.n_swapped_ > 0 && s.blocks_.reserve(pool_, s.n_swapped_)) {
      // Its KV comes back into these blocks now; it computes from the next step.
      s.state_ = SequenceState::kSwapped;
      plan_.swap_ins.push_back(StepPlan::SwapIn{&s, s.n_swapped_});
      continue;
    }
    s.n_swapped_ = 0;
    counts_[EngineCounter::kTokensRecomputed] += uint64_t(std::max(0, s.n_dropped_ - s.n_cached_));
    s.n_dropped_ = 0;
    settle(s);
    if (!schedule_prompt(s)) break;
  }
  return plan_;
}

}  // namespace llmos::engine
