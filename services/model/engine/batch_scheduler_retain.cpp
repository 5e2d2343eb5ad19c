// KV a previous engine left in the same KV memory (a model service that
// died): BatchScheduler::retain takes its blocks, a resumed request of the same
// id adopts the KV of the tokens it shares with it, and unclaimed entries give
// their blocks back when blocks run short.
#include <algorithm>

#include "llmos/engine/batch_scheduler.hpp"

namespace llmos::engine {

std::vector<uint64_t> BatchScheduler::retain(std::vector<RetainedKv> left) {
  std::vector<uint64_t> kept;
  if (options_.window > 0) return kept;  // nothing was journalled: a window's blocks are not in it
  const size_t bs = size_t(options_.block_size);
  for (auto& e : left) {
    const size_t want_blocks = (e.tokens.size() + bs - 1) / bs;
    bool ok = e.request_id != 0 && !e.tokens.empty() && int(e.tokens.size()) < options_.ctx_len &&
              e.blocks.size() == want_blocks;
    for (const auto& r : retained_) {
      if (r.request_id == e.request_id) ok = false;  // the other one stays
    }
    // A block in use here may be held by an entry retained before: sequences
    // that shared a cached prefix share its full blocks. It must then be the
    // same block of the same prefix in both; anything else is a table that
    // claims a block twice.
    auto claim = [&](size_t i) {
      const int32_t b = e.blocks[i];
      if (pool_.take(b)) return true;
      const size_t full = (i + 1) * bs;
      if (e.tokens.size() < full) return false;
      for (const auto& r : retained_) {
        if (i < r.blocks.size() && r.blocks[i] == b && r.tokens.size() >= full &&
            std::equal(e.tokens.begin(), e.tokens.begin() + std::ptrdiff_t(full), r.tokens.begin())) {
          pool_.share(b);
          return true;
        }
      }
      return false;
    };
    size_t taken = 0;
    while (ok && taken < e.blocks.size() && claim(taken)) ++taken;
    if (!ok || taken < e.blocks.size()) {
      for (size_t i = 0; i < taken; ++i) pool_.release(e.blocks[i]);
      bool other = false;
      for (const auto& r : retained_) other |= r.request_id == e.request_id;
      if (journal_ && !other) journal_->forget(e.request_id);
      continue;
    }
    kept.push_back(e.request_id);
    retained_.push_back(std::move(e));
  }
  return kept;
}

void BatchScheduler::release_retained() {
  while (evict_retained()) {
  }
}

bool BatchScheduler::evict_retained() {
  if (retained_.empty()) return false;
  const RetainedKv& e = retained_.front();
  if (journal_) journal_->forget(e.request_id);
  for (int32_t b : e.blocks) pool_.release(b);
  retained_.erase(retained_.begin());
  return true;
}

// A resumed request whose KV a previous engine left: it takes the blocks of
// the tokens it shares with that KV (all but its last token at most, whose
// logits it needs) and starts running with them; the rest go back to the pool.
bool BatchScheduler::adopt(SequencePtr& seq) {
  auto it = std::find_if(retained_.begin(), retained_.end(),
                         [&](const RetainedKv& r) { return r.request_id == seq->id_; });
  if (it == retained_.end()) return false;
  RetainedKv e = std::move(*it);
  retained_.erase(it);
  Sequence& s = *seq;
  const auto common = std::mismatch(s.tokens_.begin(), s.tokens_.end(), e.tokens.begin(), e.tokens.end());
  const int n = std::min(int(common.first - s.tokens_.begin()), int(s.tokens_.size()) - 1);
  const size_t keep = size_t((std::max(n, 0) + options_.block_size - 1) / options_.block_size);
  const bool adopted = n > 0 && int(running_.size()) < options_.max_seqs;
  for (size_t i = adopted ? keep : 0; i < e.blocks.size(); ++i) pool_.release(e.blocks[i]);
  if (!adopted) {
    if (journal_) journal_->forget(s.id_);
    return false;
  }
  s.blocks_.adopt(std::span(e.blocks).first(keep));
  s.n_cached_ = n;
  journal(s);
  ++counts_[EngineCounter::kSequencesAdopted];
  counts_[EngineCounter::kTokensAdopted] += uint64_t(n);
  counts_[EngineCounter::kTokensRecomputed] += uint64_t(std::max(0, s.n_dropped_ - n));
  s.n_dropped_ = 0;
  settle(s);
  running_.push_back(std::move(seq));
  return true;
}

}  // namespace llmos::engine
