#include "llmos/engine/batch_scheduler.hpp"

#include <algorithm>

#include "llmos/common/status.hpp"
#include "llmos/domain/kv_geometry.hpp"

namespace llmos::engine {

BatchScheduler::BatchScheduler(const SchedulerOptions& o)
    : options_(o),
      max_blocks_((o.ctx_len + o.block_size - 1) / std::max(o.block_size, 1)),
      pool_(o.n_blocks),
      window_pool_(o.window > 0 ? o.n_window_blocks : 0) {
  LLMOS_REQUIRE(o.ctx_len >= 2 && o.block_size > 0 && o.max_seqs > 0 && o.max_batch_tokens > 0 && o.window >= 0,
                "scheduler options out of range");
  LLMOS_REQUIRE(int64_t(o.n_blocks) * o.block_size >= o.ctx_len, "the KV pool holds less than one context");
  LLMOS_REQUIRE(o.window == 0 || o.n_window_blocks >= min_window_blocks(o),
                "the sliding-window KV pool holds less than one sequence's window");
  if (o.prefix_cache && o.window == 0) prefix_ = std::make_unique<PrefixCache>(o.block_size);
  const size_t S = size_t(o.max_seqs);
  running_.reserve(S);
  plan_.chunks.reserve(S);
  plan_.swap_outs.reserve(S);
  plan_.swap_out_blocks.reserve(S * size_t(max_blocks_));
  plan_.swap_ins.reserve(S);
  plan_.preempted.reserve(S);
  plan_.ended.reserve(S);
  plan_.dropped_swaps.reserve(S);
}

bool BatchScheduler::add(uint64_t id, uint32_t tag, std::span<const int32_t> prompt,
                         std::span<const int32_t> generated, bool resume_swapped) {
  LLMOS_REQUIRE(!prompt.empty() && int(prompt.size() + generated.size()) < options_.ctx_len,
                "a sequence must hold at least one token and fit the context");
  auto seq = SequencePtr(new Sequence(id, tag, options_.block_size));
  Sequence& s = *seq;
  s.tokens_.reserve(size_t(options_.ctx_len));
  s.tokens_.assign(prompt.begin(), prompt.end());
  s.tokens_.insert(s.tokens_.end(), generated.begin(), generated.end());
  s.n_generated_ = int(generated.size());
  // Resumed: the KV of all but the last token was computed before. After a
  // take-off here (maybe before its first token) what it kept waits in the
  // swap space; after its model service died, whatever that service left in
  // the swap space is stale.
  const int computed_before = int(s.tokens_.size()) - 1;
  auto parked = std::find_if(parked_.begin(), parked_.end(), [&](const SequencePtr& p) { return p->id_ == id; });
  bool drop_stale_swap = false;
  if (resume_swapped && parked != parked_.end() && (*parked)->n_swapped_ <= computed_before) {
    s.n_swapped_ = (*parked)->n_swapped_;
    s.n_dropped_ = std::max(s.n_swapped_, generated.empty() ? 0 : computed_before);
    s.state_ = SequenceState::kSwapped;
  } else if (!generated.empty() || parked != parked_.end()) {
    if (!generated.empty()) s.n_dropped_ = computed_before;
    drop_stale_swap = true;
  }
  if (parked != parked_.end()) parked_.erase(parked);
  if (adopt(seq)) {
    // It runs on the KV a previous engine left; anything swapped is stale.
    drop_stale_swap |= s.n_swapped_ > 0;
    s.n_swapped_ = 0;
    return drop_stale_swap;
  }
  waiting_.push_back(std::move(seq));
  return drop_stale_swap;
}

const Sequence* BatchScheduler::find(uint64_t id) const {
  for (const auto* list : {&running_, &parked_}) {
    for (const auto& s : *list) {
      if (s && s->id_ == id) return s.get();
    }
  }
  for (const auto& s : waiting_) {
    if (s && s->id_ == id) return s.get();
  }
  return nullptr;
}

int max_window_blocks(const SchedulerOptions& o) {
  const int tokens = std::min(o.ctx_len, o.window + o.max_batch_tokens);
  return std::min((tokens + o.block_size - 1) / o.block_size + 1, (o.ctx_len + o.block_size - 1) / o.block_size);
}

int min_window_blocks(const SchedulerOptions& o) {
  return std::min(kv_window_blocks_per_sequence(o.window, o.block_size), (o.ctx_len + o.block_size - 1) / o.block_size);
}

void BatchScheduler::journal(const Sequence& s) {
  if (!journal_ || options_.window > 0) return;  // retained KV has no window tables
  const size_t n_blocks = size_t((s.n_cached_ + options_.block_size - 1) / options_.block_size);
  journal_->commit(s.id_, std::span(s.tokens_).first(size_t(s.n_cached_)), s.blocks_.blocks().first(n_blocks));
}

void BatchScheduler::release_kv(Sequence& s, bool keep_prefix) {
  if (journal_) journal_->forget(s.id_);
  if (keep_prefix && prefix_) {
    prefix_->insert(std::span(s.tokens_).first(size_t(s.n_cached_)), s.blocks_.blocks(), pool_);
  }
  s.blocks_.release_all(pool_);
  s.window_blocks_.release_all(window_pool_);
}

bool BatchScheduler::reserve_kv(Sequence& s, int n_tokens) {
  if (!s.blocks_.reserve(pool_, n_tokens)) return false;
  return options_.window == 0 || s.window_blocks_.reserve(window_pool_, n_tokens);
}

int BatchScheduler::kv_capacity(const Sequence& s) const {
  const int all = s.blocks_.capacity();
  return options_.window == 0 ? all : std::min(all, s.window_blocks_.capacity());
}

bool BatchScheduler::reclaim() { return evict_retained() || (prefix_ && prefix_->evict(pool_)); }

// A sequence about to run with no KV: the cached blocks of its longest cached
// prefix become its first blocks (all but its last token at most, whose
// logits it needs), and only the rest is computed.
void BatchScheduler::reuse_prefix(Sequence& s) {
  if (!prefix_ || s.n_cached_ > 0 || s.n_swapped_ > 0 || !s.blocks_.blocks().empty()) return;
  std::vector<int32_t> shared = prefix_->match(s.tokens_, int(s.tokens_.size()) - 1, pool_);
  if (shared.empty()) return;
  s.blocks_.adopt(shared);
  s.n_cached_ = int(shared.size()) * options_.block_size;
  ++counts_[EngineCounter::kPrefixHits];
  counts_[EngineCounter::kPrefixTokens] += uint64_t(s.n_cached_);
}

void BatchScheduler::settle(Sequence& s) {
  s.state_ = int(s.tokens_.size()) - s.n_cached_ > 1 ? SequenceState::kPrefilling : SequenceState::kDecoding;
}

void BatchScheduler::plan_swap_out(Sequence& s, int ended) {
  const int n_blocks = (s.n_cached_ + options_.block_size - 1) / options_.block_size;
  const auto blocks = s.blocks_.blocks().first(size_t(n_blocks));
  const int first = int(plan_.swap_out_blocks.size());
  plan_.swap_out_blocks.insert(plan_.swap_out_blocks.end(), blocks.begin(), blocks.end());
  plan_.swap_outs.push_back(StepPlan::SwapOut{&s, s.n_cached_, first, n_blocks, ended});
}

// Cancel (its full blocks go to the prefix cache, its swapped-out KV is
// dropped) or take off (its KV is swapped out too, and it waits parked for the
// request to come back).
void BatchScheduler::end(SequencePtr& seq, bool taken_off) {
  Sequence& s = *seq;
  plan_.ended.push_back(StepPlan::Ended{s.id_, s.tag_, taken_off, taken_off ? s.n_swapped_ : 0});
  if (!taken_off) {
    release_kv(s, /*keep_prefix=*/true);
    if (s.n_swapped_ > 0) plan_.dropped_swaps.push_back(s.id_);
    seq.reset();
    return;
  }
  const bool saving = can_swap() && s.n_cached_ > 0;
  if (saving) plan_swap_out(s, int(plan_.ended.size()) - 1);
  release_kv(s, /*keep_prefix=*/true);  // a resume may find its full blocks there
  s.n_cached_ = 0;
  s.state_ = SequenceState::kParked;
  if (saving || s.n_swapped_ > 0) {
    parked_.push_back(std::move(seq));
  } else {
    seq.reset();  // nothing kept: the request comes back to recompute
  }
}

// The most recently admitted running sequence other than `keep` gives its
// blocks back and waits at the front of the queue; its KV is swapped out when
// there is a swap space (dropped otherwise, and recomputed).
bool BatchScheduler::preempt_newest(const Sequence* keep) {
  if (running_.empty() || running_.back().get() == keep) return false;
  SequencePtr victim = std::move(running_.back());
  running_.pop_back();
  Sequence& v = *victim;
  if (can_swap() && v.n_cached_ > 0) {
    plan_swap_out(v, -1);
    v.state_ = SequenceState::kSwapped;  // until swapped_out() says otherwise
  } else {
    v.state_ = SequenceState::kDropped;
  }
  release_kv(v, /*keep_prefix=*/false);  // short of blocks: caching them would only evict them again
  v.n_dropped_ = v.n_cached_;
  v.n_cached_ = 0;
  v.preempted_at_ = step_;
  plan_.preempted.push_back(v.id_);
  waiting_.push_front(std::move(victim));
  ++counts_[EngineCounter::kPreemptions];
  return true;
}

void BatchScheduler::swapped_out(const StepPlan::SwapOut& op, bool ok) {
  Sequence& s = *op.seq;
  if (ok) {
    ++counts_[EngineCounter::kSwapsOut];
  } else {
    ++counts_[EngineCounter::kSwapFallbacks];
  }
  if (op.ended < 0) {  // preempted for blocks
    s.n_swapped_ = ok ? op.n_tokens : 0;
    s.state_ = ok ? SequenceState::kSwapped : SequenceState::kDropped;
    return;
  }
  if (ok) {
    s.n_swapped_ = op.n_tokens;
    plan_.ended[size_t(op.ended)].kv_kept = op.n_tokens;
  } else if (s.n_swapped_ == 0) {  // taken off with nothing kept
    std::erase_if(parked_, [&](const SequencePtr& p) { return p.get() == &s; });
  }
}

void BatchScheduler::swapped_in(const StepPlan::SwapIn& op, bool ok) {
  Sequence& s = *op.seq;
  s.n_swapped_ = 0;
  if (ok) {
    s.n_cached_ = op.n_tokens;
    ++counts_[EngineCounter::kSwapsIn];
    counts_[EngineCounter::kTokensSwappedIn] += uint64_t(op.n_tokens);
    journal(s);
  } else {
    ++counts_[EngineCounter::kSwapFallbacks];  // its reserved blocks are recomputed into
  }
  counts_[EngineCounter::kTokensRecomputed] += uint64_t(std::max(0, s.n_dropped_ - s.n_cached_));
  s.n_dropped_ = 0;
  settle(s);
}

void BatchScheduler::computed() {
  for (const auto& c : plan_.chunks) {
    Sequence& s = *c.seq;
    s.n_cached_ += c.n_tokens;
    // The next token, at position n_cached, sees back to n_cached - window + 1.
    if (options_.window > 0) s.window_blocks_.release_before(window_pool_, s.n_cached_ + 1 - options_.window);
    journal(s);
    if (!c.wants_logits) settle(s);
  }
}

void BatchScheduler::append(Sequence& s, int32_t token) {
  s.tokens_.push_back(token);
  ++s.n_generated_;
  s.state_ = SequenceState::kDecoding;
}

void BatchScheduler::finish(Sequence& s) {
  release_kv(s, /*keep_prefix=*/true);
  s.state_ = SequenceState::kFinished;
}

void BatchScheduler::end_step() {
  std::erase_if(running_, [](const SequencePtr& s) { return s->state_ == SequenceState::kFinished; });
}

}  // namespace llmos::engine
