#include "llmos/engine/engine.hpp"

#include <algorithm>
#include <string>

#include "llmos/model/memory_estimate.hpp"

namespace llmos::engine {

namespace {

// The scheduler's options for this model: with sliding-window layers, their
// window and a window pool of the cache's n_window_blocks (the sliding layers'
// own planes); for a cache without them (the window blocks then index the
// n_blocks planes), one window's blocks and a step's per sequence, at most n_blocks.
SchedulerOptions scheduler_options(const Model& model, const EngineOptions& o, const KvGeometry& kv) {
  SchedulerOptions so{o.max_seqs, o.ctx_len, o.block_size, kv.n_blocks, model.options().max_batch_tokens,
                      o.prefix_cache, false};
  const ModelConfig& c = model.config();
  for (int l = 0; l < c.n_layers; ++l) so.window = std::max(so.window, c.attention_window(l));
  if (so.window > 0) {
    so.n_window_blocks = kv.n_window_layers() > 0 ? kv.n_window_blocks
                                                  : std::min(kv.n_blocks, o.max_seqs * max_window_blocks(so));
  }
  return so;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(Model& model, const EngineOptions& options) {
  return create(model, options, nullptr);
}

Result<std::unique_ptr<Engine>> Engine::create(Model& model, const EngineOptions& in,
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
  // The one derivation the kernel's estimate uses too: global layers get the
  // capacity's blocks, sliding-window layers their sequences' windows.
  auto geometry = model::kv_cache_geometry(c, uint64_t(o.kv_tokens), uint32_t(o.block_size), o.kv_type,
                                           uint32_t(o.max_seqs));
  if (!geometry.ok()) return geometry.status();
  KvGeometry layout = *geometry;
  for (int l = 0; l < c.n_layers; ++l) {
    if (layout.is_window_layer(l) != (c.attention_window(l) > 0)) {
      return internal_error("layer " + std::to_string(l) + ": the family's sliding window and the KV geometry's disagree");
    }
  }
  if (kv == nullptr) {
    LLMOS_ASSIGN_OR_RETURN(kv, KvCache::allocate(model.driver(), layout));
  } else {
    const auto& l = kv->layout();
    bool fits = l.n_layers == layout.n_layers && l.n_kv_heads == layout.n_kv_heads && l.head_dim == layout.head_dim &&
                l.block_size == layout.block_size && l.n_blocks >= layout.n_blocks;
    // A cache without window layers (sliding layers in the n_blocks planes) fits
    // as well; one with them must mark the model's, with a sequence's window.
    if (l.n_window_layers() > 0) {
      for (int w = 0; w < kMaxKvWindowLayers / 64; ++w) fits = fits && l.window_layers[w] == layout.window_layers[w];
      const SchedulerOptions so = scheduler_options(model, o, l);
      fits = fits && so.n_window_blocks >= min_window_blocks(so);
    }
    if (!fits) {
      return invalid_argument("the KV cache handed to the engine (" + describe_kv_geometry(l) +
                              ") does not fit the model (" + describe_kv_geometry(layout) + ")");
    }
  }
  return std::unique_ptr<Engine>(new Engine(model, o, std::move(kv)));
}

Engine::Engine(Model& model, const EngineOptions& options, std::unique_ptr<KvCache> kv)
    : model_(model),
      options_(options),
      kv_(std::move(kv)),
      scheduler_(scheduler_options(model, options, kv_->layout())) {
  const int T = model.options().max_batch_tokens;
  const size_t S = size_t(options.max_seqs);
  max_blocks_ = (options.ctx_len + options.block_size - 1) / options.block_size;
  token_ids_.resize(size_t(T));
  positions_.resize(size_t(T));
  seq_index_.resize(size_t(T));
  kv_slots_.resize(size_t(T));
  block_tables_.resize(S * size_t(max_blocks_));
  if (scheduler_.options().window > 0) {
    window_kv_slots_.resize(size_t(T));
    window_block_tables_.resize(S * size_t(max_blocks_));
  }
  output_rows_.resize(S);
  logits_.resize(S * size_t(model.config().n_vocab));
  generations_.reserve(S);
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
  const uint32_t tag = keep(Generation{std::move(sampler), std::move(r.stop_ids), r.max_tokens});
  if (scheduler_.add(r.id, tag, r.prompt, r.generated, r.resume_swapped) && swap_) swap_->drop(r.id);
  return ok_status();
}

uint32_t Engine::keep(Generation g) {
  if (free_tags_.empty()) {
    generations_.emplace_back(std::move(g));
    free_tags_.reserve(generations_.capacity());  // forget() never allocates
    return uint32_t(generations_.size() - 1);
  }
  const uint32_t tag = free_tags_.back();
  free_tags_.pop_back();
  generations_[tag].emplace(std::move(g));
  return tag;
}

void Engine::forget(uint32_t tag) {
  generations_[tag].reset();
  free_tags_.push_back(tag);
}

void Engine::cancel(uint64_t request_id) { scheduler_.cancel(request_id); }

void Engine::preempt(uint64_t request_id) { scheduler_.take_off(request_id); }

void Engine::set_swap_space(std::unique_ptr<KvSwapSpace> swap) {
  swap_ = std::move(swap);
  scheduler_.set_swap_space(swap_ != nullptr);
}

void Engine::set_journal(std::unique_ptr<KvJournal> journal) { scheduler_.set_journal(std::move(journal)); }

std::vector<uint64_t> Engine::retain(std::vector<RetainedKv> left) { return scheduler_.retain(std::move(left)); }

void Engine::release_retained() { scheduler_.release_retained(); }

EngineStats Engine::stats() const {
  const EngineCounters& c = scheduler_.counters();
  EngineStats s;
  s.running = scheduler_.n_running();
  s.waiting = scheduler_.n_waiting();
  // Blocks only the prefix cache holds count as free: they go at the first need.
  s.kv_blocks_used = scheduler_.pool().n_used() - scheduler_.pool().n_only_cached();
  s.kv_blocks_total = scheduler_.pool().n_total();
  s.counters = c;
  s.retained = scheduler_.n_retained();
  s.prefix_cached_blocks = scheduler_.n_prefix_cached();
  s.kv_window_blocks_used = scheduler_.window_pool().n_used();
  s.kv_window_blocks_total = scheduler_.window_pool().n_total();
  return s;
}

}  // namespace llmos::engine
