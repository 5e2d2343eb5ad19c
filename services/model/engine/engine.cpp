#include "llmos/engine/engine.hpp"

#include <algorithm>
#include <string>

namespace llmos::engine {

Result<std::unique_ptr<Engine>> Engine::create(LlamaModel& model, const EngineOptions& options) {
  return create(model, options, nullptr);
}

Result<std::unique_ptr<Engine>> Engine::create(LlamaModel& model, const EngineOptions& in,
                                               std::unique_ptr<KvCache> kv) {
  EngineOptions o = in;
  const auto& c = model.config();
  if (o.ctx_len == 0) o.ctx_len = c.ctx_len;
  if (o.kv_tokens == 0) o.kv_tokens = o.ctx_len;
  if (o.ctx_len < 2) return invalid_argument("context length must be at least 2 tokens");
  if (o.block_size <= 0) return invalid_argument("KV block size must be positive");
  if (o.kv_tokens < o.ctx_len) {
    return invalid_argument("KV capacity " + std::to_string(o.kv_tokens) +
                            " tokens is below one full context of " + std::to_string(o.ctx_len));
  }
  if (o.max_seqs <= 0 || o.max_seqs > model.options().max_outputs) {
    return invalid_argument("max_seqs must be in [1, " + std::to_string(model.options().max_outputs) + "]");
  }
  KvGeometry layout;
  layout.n_layers = c.n_layers;
  layout.n_blocks = (o.kv_tokens + o.block_size - 1) / o.block_size;
  layout.block_size = o.block_size;
  layout.n_kv_heads = c.n_kv_heads;
  layout.head_dim = c.head_dim;
  layout.type = o.kv_type;
  if (kv == nullptr) {
    LLMOS_ASSIGN_OR_RETURN(kv, KvCache::allocate(model.driver(), layout));
  } else {
    const auto& l = kv->layout();
    if (l.n_layers != layout.n_layers || l.n_kv_heads != layout.n_kv_heads || l.head_dim != layout.head_dim ||
        l.block_size != layout.block_size || l.n_blocks < layout.n_blocks) {
      return invalid_argument("the KV cache handed to the engine does not fit the model");
    }
  }
  return std::unique_ptr<Engine>(new Engine(model, o, std::move(kv)));
}

Engine::Engine(LlamaModel& model, const EngineOptions& options, std::unique_ptr<KvCache> kv)
    : model_(model), options_(options), kv_(std::move(kv)), pool_(kv_->layout().n_blocks) {
  if (options.prefix_cache) prefix_ = std::make_unique<PrefixCache>(options.block_size);
  const int T = model.options().max_batch_tokens;
  const size_t S = size_t(options.max_seqs);
  max_blocks_ = (options.ctx_len + options.block_size - 1) / options.block_size;
  token_ids_.resize(size_t(T));
  positions_.resize(size_t(T));
  seq_index_.resize(size_t(T));
  kv_slots_.resize(size_t(T));
  block_tables_.resize(S * size_t(max_blocks_));
  output_rows_.resize(S);
  output_seqs_.resize(S);
  step_seqs_.reserve(S);
  step_chunks_.reserve(S);
  logits_.resize(S * size_t(model.config().n_vocab));
  running_.reserve(S);
}

Status Engine::submit(GenerationRequest r) {
  const int n_vocab = model_.config().n_vocab;
  LLMOS_RETURN_IF_ERROR(validate_sampling(r.sampling));
  if (r.prompt.empty()) return invalid_argument("request " + std::to_string(r.id) + ": empty prompt");
  if (int(r.prompt.size()) >= options_.ctx_len) {
    return invalid_argument("request " + std::to_string(r.id) + ": prompt of " + std::to_string(r.prompt.size()) +
                            " tokens does not fit the context of " + std::to_string(options_.ctx_len) + " tokens");
  }
  for (const auto* ids : {&r.prompt, &r.generated}) {
    for (int32_t t : *ids) {
      if (t < 0 || t >= n_vocab) {
        return invalid_argument("request " + std::to_string(r.id) + ": token id " + std::to_string(t) +
                                " is outside the vocabulary of " + std::to_string(n_vocab));
      }
    }
  }
  if (r.max_tokens <= 0) return invalid_argument("request " + std::to_string(r.id) + ": max_tokens must be > 0");
  if (!r.generated.empty() && (int(r.generated.size()) >= r.max_tokens ||
                               int(r.prompt.size() + r.generated.size()) >= options_.ctx_len)) {
    return invalid_argument("request " + std::to_string(r.id) + ": resumed with " +
                            std::to_string(r.generated.size()) +
                            " generated tokens, which already reach its max_tokens or the context");
  }
  Sampler sampler(r.sampling, n_vocab);
  sampler.skip(r.generated.size());
  const int n_generated = int(r.generated.size());
  auto seq = std::unique_ptr<Sequence>(new Sequence{std::move(r), {}, 0, n_generated, 0, 0, false,
                                                    BlockTable(options_.block_size), std::move(sampler)});
  seq->tokens.reserve(size_t(options_.ctx_len));
  seq->tokens = seq->req.prompt;
  seq->tokens.insert(seq->tokens.end(), seq->req.generated.begin(), seq->req.generated.end());
  // Resumed: the KV of all but the last token was computed before. After a
  // preempt() here (maybe before its first token) what it kept waits in the
  // swap space; after its model service died, whatever that service left in
  // the swap space is stale.
  const int computed_before = int(seq->tokens.size()) - 1;
  auto parked = parked_.find(seq->req.id);
  if (seq->req.resume_swapped && parked != parked_.end() && parked->second <= computed_before) {
    seq->n_swapped = parked->second;
    seq->n_dropped = std::max(parked->second, seq->req.generated.empty() ? 0 : computed_before);
  } else if (!seq->req.generated.empty() || parked != parked_.end()) {
    if (!seq->req.generated.empty()) seq->n_dropped = computed_before;
    if (swap_) swap_->drop(seq->req.id);
  }
  if (parked != parked_.end()) parked_.erase(parked);
  if (adopt(seq)) return ok_status();
  waiting_.push_back(std::move(seq));
  return ok_status();
}

void Engine::cancel(uint64_t request_id) { cancelled_.push_back(request_id); }

void Engine::preempt(uint64_t request_id) { preempting_.push_back(request_id); }

void Engine::take_off(std::unique_ptr<Sequence>& seq, std::vector<TokenEvent>& events) {
  Sequence& s = *seq;
  int kept = s.n_swapped;  // a sequence waiting after an earlier preemption keeps its swap
  if (swap_ && s.n_cached > 0) {
    const int n_blocks = (s.n_cached + options_.block_size - 1) / options_.block_size;
    Status st = swap_->save(s.req.id, std::span(s.tokens).first(size_t(s.n_cached)), *kv_,
                            s.blocks.blocks().first(size_t(n_blocks)));
    if (st.ok()) {
      kept = s.n_cached;
      ++counts_.swaps_out;
    } else {
      ++counts_.swap_fallbacks;
    }
  }
  release_kv(s);  // its full blocks stay in the prefix cache: a resume may find them there
  if (kept > 0) parked_[s.req.id] = kept;
  TokenEvent ev{s.req.id, -1, true, FinishReason::kPreempted};
  ev.kv_kept = kept;
  events.push_back(ev);  // the kernel counts this preemption: it asked for it
  seq.reset();
}

void Engine::set_swap_space(std::unique_ptr<KvSwapSpace> swap) { swap_ = std::move(swap); }

void Engine::set_journal(std::unique_ptr<KvJournal> journal) { journal_ = std::move(journal); }

EngineStats Engine::stats() const {
  EngineStats s = counts_;
  s.running = int(running_.size());
  s.waiting = int(waiting_.size());
  // Blocks only the prefix cache holds count as free: they go at the first need.
  s.kv_blocks_used = pool_.n_used() - pool_.n_only_cached();
  s.kv_blocks_total = pool_.n_total();
  s.retained = int(retained_.size());
  s.prefix_cached_blocks = prefix_ ? prefix_->size() : 0;
  return s;
}

void Engine::release_kv(Sequence& s, bool keep) {
  if (journal_) journal_->forget(s.req.id);
  if (keep && prefix_) prefix_->insert(std::span(s.tokens).first(size_t(s.n_cached)), s.blocks.blocks(), pool_);
  s.blocks.release_all(pool_);
}

bool Engine::reclaim() { return evict_retained() || (prefix_ && prefix_->evict(pool_)); }

// A sequence about to run with no KV: the cached blocks of its longest cached
// prefix become its first blocks (all but its last token at most, whose
// logits it needs), and only the rest is computed.
void Engine::reuse_prefix(Sequence& s) {
  if (!prefix_ || s.n_cached > 0 || s.n_swapped > 0 || !s.blocks.blocks().empty()) return;
  std::vector<int32_t> shared = prefix_->match(s.tokens, int(s.tokens.size()) - 1, pool_);
  if (shared.empty()) return;
  s.blocks.adopt(shared);
  s.n_cached = int(shared.size()) * options_.block_size;
  ++counts_.prefix_hits;
  counts_.tokens_from_prefix += uint64_t(s.n_cached);
}

void Engine::finish(std::unique_ptr<Sequence>& seq, FinishReason reason, std::vector<TokenEvent>& events) {
  release_kv(*seq);
  if (seq->n_swapped > 0) swap_->drop(seq->req.id);
  events.push_back(TokenEvent{seq->req.id, -1, true, reason});
  seq.reset();
}

bool Engine::preempt_one(const Sequence* keep) {
  if (running_.empty() || running_.back().get() == keep) return false;
  std::unique_ptr<Sequence> victim = std::move(running_.back());
  running_.pop_back();
  Sequence& v = *victim;
  if (swap_ && v.n_cached > 0) {
    const int n_blocks = (v.n_cached + options_.block_size - 1) / options_.block_size;
    Status st = swap_->save(v.req.id, std::span(v.tokens).first(size_t(v.n_cached)), *kv_,
                            v.blocks.blocks().first(size_t(n_blocks)));
    if (st.ok()) {
      v.n_swapped = v.n_cached;
      ++counts_.swaps_out;
    } else {
      ++counts_.swap_fallbacks;
    }
  }
  release_kv(v, /*keep=*/false);  // short of blocks: caching them would only evict them again
  v.n_dropped = v.n_cached;
  v.n_cached = 0;  // swapped in, or recomputed from its tokens, when it runs again
  waiting_.push_front(std::move(victim));
  ++counts_.preemptions;
  return true;
}

void Engine::step(std::vector<TokenEvent>& events) {
  // Cancellations take effect between steps.
  for (uint64_t id : cancelled_) {
    for (auto& s : running_) {
      if (s && s->req.id == id) finish(s, FinishReason::kCancelled, events);
    }
    for (auto& s : waiting_) {
      if (s && s->req.id == id) finish(s, FinishReason::kCancelled, events);
    }
  }
  for (uint64_t id : cancelled_) {
    if (parked_.erase(id) > 0 && swap_) swap_->drop(id);  // taken off by preempt(), never resumed
  }
  cancelled_.clear();
  for (uint64_t id : preempting_) {
    for (auto& s : running_) {
      if (s && s->req.id == id) take_off(s, events);
    }
    for (auto& s : waiting_) {
      if (s && s->req.id == id) take_off(s, events);
    }
  }
  preempting_.clear();
  std::erase(running_, nullptr);
  std::erase(waiting_, nullptr);

  // ---- schedule -------------------------------------------------------------
  const int budget = model_.options().max_batch_tokens;
  int n = 0, n_out = 0;
  step_seqs_.clear();
  auto add_chunk = [&](Sequence& s, int chunk) {
    const int row = int(step_seqs_.size());
    step_seqs_.push_back(&s);
    for (int j = 0; j < chunk; ++j) {
      const int pos = s.n_cached + j;
      token_ids_[size_t(n)] = s.tokens[size_t(pos)];
      positions_[size_t(n)] = pos;
      seq_index_[size_t(n)] = row;
      kv_slots_[size_t(n)] = s.blocks.slot(pos);
      ++n;
    }
    int32_t* table = &block_tables_[size_t(row) * size_t(max_blocks_)];
    auto blocks = s.blocks.blocks();
    std::fill(table, table + max_blocks_, -1);
    std::copy(blocks.begin(), blocks.end(), table);
    if (s.n_cached + chunk == int(s.tokens.size())) {
      output_rows_[size_t(n_out)] = n - 1;
      output_seqs_[size_t(n_out)] = &s;
      ++n_out;
    }
  };
  std::vector<int>& chunks = step_chunks_;
  chunks.clear();

  // Decoding sequences first: one token each, preempting the newest when full.
  for (size_t i = 0; i < running_.size() && n < budget; ++i) {
    Sequence& s = *running_[i];
    if (int(s.tokens.size()) - s.n_cached != 1) continue;
    while (!s.blocks.reserve(pool_, s.n_cached + 1)) {
      if (!reclaim() && !preempt_one(&s)) break;
    }
    if (s.blocks.capacity() < s.n_cached + 1) continue;  // cannot happen: kv_tokens >= ctx_len
    add_chunk(s, 1);
    chunks.push_back(1);
  }
  // Then prompt chunks: running sequences mid-prompt, then newly admitted ones.
  auto schedule_prompt = [&](Sequence& s) -> bool {
    int chunk = std::min(int(s.tokens.size()) - s.n_cached, budget - n);
    if (chunk <= 0) return false;
    while (!s.blocks.reserve(pool_, s.n_cached + chunk) && reclaim()) {
    }
    chunk = std::min(chunk, s.blocks.capacity() - s.n_cached);
    if (chunk <= 0) return false;
    add_chunk(s, chunk);
    chunks.push_back(chunk);
    return true;
  };
  for (size_t i = 0; i < running_.size() && n < budget; ++i) {
    Sequence& s = *running_[i];
    if (int(s.tokens.size()) - s.n_cached > 1) schedule_prompt(s);
  }
  while (!waiting_.empty() && n < budget && int(running_.size()) < options_.max_seqs) {
    Sequence& s = *waiting_.front();
    reuse_prefix(s);
    // Admit only when the whole prompt's blocks are free, so admission never
    // forces a preemption of work already running.
    const int need_blocks = (int(s.tokens.size()) + options_.block_size - 1) / options_.block_size -
                            int(s.blocks.blocks().size());
    while (pool_.n_free() < need_blocks && reclaim()) {
    }
    if (pool_.n_free() < need_blocks) break;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    swap_in(*running_.back());
    if (!schedule_prompt(*running_.back())) break;
  }
  if (n == 0) return;

  // ---- forward ----------------------------------------------------------------
  driver::StepBatch batch;
  batch.n_tokens = n;
  batch.token_ids = token_ids_.data();
  batch.positions = positions_.data();
  batch.seq_index = seq_index_.data();
  batch.kv_slots = kv_slots_.data();
  batch.n_seqs = int(step_seqs_.size());
  batch.max_blocks = max_blocks_;
  batch.block_tables = block_tables_.data();
  batch.n_outputs = n_out;
  batch.output_rows = output_rows_.data();
  model_.forward(batch, *kv_, logits_.data());
  for (size_t i = 0; i < step_seqs_.size(); ++i) {
    Sequence& s = *step_seqs_[i];
    s.n_cached += chunks[i];
    if (journal_) {
      const size_t n_blocks = size_t((s.n_cached + options_.block_size - 1) / options_.block_size);
      journal_->commit(s.req.id, std::span(s.tokens).first(size_t(s.n_cached)), s.blocks.blocks().first(n_blocks));
    }
  }

  // ---- sample and emit ---------------------------------------------------------
  const size_t n_vocab = size_t(model_.config().n_vocab);
  bool any_finished = false;
  for (int o = 0; o < n_out; ++o) {
    Sequence& s = *output_seqs_[size_t(o)];
    std::span<float> row(&logits_[size_t(o) * n_vocab], n_vocab);
    const int32_t tok = s.sampler.sample(row, s.tokens);
    TokenEvent ev{s.req.id, tok, false, FinishReason::kNone};
    if (std::find(s.req.stop_ids.begin(), s.req.stop_ids.end(), tok) != s.req.stop_ids.end()) {
      ev = TokenEvent{s.req.id, -1, true, FinishReason::kStop};
    } else {
      s.tokens.push_back(tok);
      ++s.n_generated;
      if (s.n_generated >= s.req.max_tokens) {
        ev.done = true;
        ev.reason = FinishReason::kLength;
      } else if (int(s.tokens.size()) >= options_.ctx_len) {
        ev.done = true;
        ev.reason = FinishReason::kContext;
      }
    }
    events.push_back(ev);
    if (ev.done) {
      release_kv(s);
      s.finished = true;
      any_finished = true;
    }
  }
  if (any_finished) std::erase_if(running_, [](const std::unique_ptr<Sequence>& s) { return s->finished; });
}

}  // namespace llmos::engine
