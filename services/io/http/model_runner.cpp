#include "model_runner.hpp"

#include <algorithm>
#include <ctime>

#include "llmos/driver/driver.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::http {
namespace {

engine::SamplingParams to_engine(const Sampling& s) {
  engine::SamplingParams p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repeat_penalty = s.repeat_penalty;
  p.seed = s.seed;
  return p;
}

FinishReason to_finish(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::kLength:
    case engine::FinishReason::kContext: return FinishReason::kLength;
    case engine::FinishReason::kCancelled:
    case engine::FinishReason::kPreempted: return FinishReason::kCancelled;  // never asked for here
    case engine::FinishReason::kNone:
    case engine::FinishReason::kStop: break;
  }
  return FinishReason::kStop;
}

GenerationEvent done_event(FinishReason finish, Usage usage, Status error = {}) {
  GenerationEvent ev;
  ev.done = true;
  ev.finish = finish;
  ev.usage = usage;
  ev.error = std::move(error);
  return ev;
}

}  // namespace

ModelRunner::ModelRunner(LoadParams params, const LocalBackendOptions& options)
    : params_(std::move(params)), options_(options), created_(int64_t(std::time(nullptr))) {
  stats_.name = params_.name;
}

ModelRunner::~ModelRunner() { shutdown(); }

void ModelRunner::start(std::function<void(Status)> loaded) {
  thread_ = std::thread([this, loaded = std::move(loaded)]() mutable { run(std::move(loaded)); });
}

void ModelRunner::run(std::function<void(Status)> loaded) {
  Status st = load();
  {
    std::lock_guard lock(mu_);
    if (!st.ok()) {
      state_ = ModelState::kFailed;
      error_ = st.message();
    } else if (!stopping_) {
      state_ = ModelState::kReady;
    }
  }
  if (!st.ok()) {
    engine_.reset();
    model_.reset();
  }
  if (loaded) loaded(st);
  if (st.ok()) loop();
}

Status ModelRunner::load() {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(params_.path));
  LLMOS_ASSIGN_OR_RETURN(auto text, model_text_from_gguf(*file));
  const tokenizer::Tokenizer& tok = text->tok;

  driver::DriverOptions dopts;
  dopts.threads = params_.threads > 0 ? params_.threads : options_.threads;
  LLMOS_ASSIGN_OR_RETURN(auto drv, driver::make_cpu_driver(dopts));
  const std::string device = drv->info().name;
  engine::ModelOptions mopts;
  mopts.max_batch_tokens = options_.max_batch_tokens;
  mopts.max_outputs = options_.max_seqs;
  LLMOS_ASSIGN_OR_RETURN(model_, engine::load_model(std::move(file), std::move(drv), mopts));
  const auto& cfg = model_->config();
  if (tok.n_tokens() != cfg.n_vocab) {
    return invalid_argument(params_.path + ": vocabulary has " + std::to_string(tok.n_tokens()) +
                            " tokens but token_embd.weight has " + std::to_string(cfg.n_vocab) + " rows");
  }
  engine::EngineOptions eopts;
  eopts.max_seqs = options_.max_seqs;
  eopts.ctx_len = params_.ctx;
  eopts.kv_tokens = options_.kv_tokens == 0 ? 0 : std::max(options_.kv_tokens, params_.ctx == 0 ? cfg.ctx_len : params_.ctx);
  LLMOS_ASSIGN_OR_RETURN(engine_, engine::Engine::create(*model_, eopts));

  const engine::EngineStats es = engine_->stats();
  const uint64_t kv_bytes = uint64_t(cfg.n_layers) * 2 * uint64_t(es.kv_blocks_total) *
                            uint64_t(engine_->options().block_size) * uint64_t(cfg.kv_dim()) *
                            (engine_->options().kv_type == DType::kF32 ? 4 : 2);
  std::lock_guard lock(mu_);
  codec_ = std::move(text);
  device_ = device;
  context_length_ = engine_->options().ctx_len;
  n_vocab_ = cfg.n_vocab;
  memory_bytes_ = model_->weight_bytes() + model_->activation_bytes() + kv_bytes;
  stats_.kv_blocks_free = es.kv_blocks_total;
  stats_.memory_bytes = memory_bytes_;
  return ok_status();
}

// ---- the engine thread's loop ---------------------------------------------------

void ModelRunner::loop() {
  std::vector<Submission> inbox;
  std::vector<GenerationHandle> cancels;
  for (;;) {
    bool stop = false, drain = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] {
        return stopping_ || draining_ || !inbox_.empty() || !cancels_.empty() || engine_->has_work();
      });
      inbox.swap(inbox_);
      cancels.swap(cancels_);
      stop = stopping_;
      drain = draining_;
    }
    if (stop) {
      cancel_all(inbox);
      break;
    }
    // Interactive requests join the engine's queue ahead of batch ones.
    std::stable_partition(inbox.begin(), inbox.end(),
                          [](const Submission& s) { return s.params.priority == Priority::kInteractive; });
    for (auto& s : inbox) begin(s);
    inbox.clear();
    for (GenerationHandle h : cancels) {
      if (active_.count(h)) engine_->cancel(h);
    }
    cancels.clear();
    events_.clear();
    if (engine_->has_work()) engine_->step(events_);
    publish_stats();  // before the events, so a client that saw its done event sees its blocks freed
    deliver(events_);
    if (drain && active_.empty() && !engine_->has_work()) {
      std::lock_guard lock(mu_);
      if (inbox_.empty()) break;
    }
  }
  engine_.reset();
  model_.reset();
  std::function<void()> drained;
  {
    std::lock_guard lock(mu_);
    exited_ = true;
    drained = std::move(drained_);
    stats_.running = stats_.queued = stats_.kv_blocks_used = stats_.kv_blocks_free = 0;
    stats_.memory_bytes = 0;
  }
  if (drained) drained();
}

void ModelRunner::begin(Submission& s) {
  engine::GenerationRequest req;
  req.id = s.handle;
  req.prompt = std::move(s.params.prompt);
  req.sampling = to_engine(s.params.sampling);
  req.max_tokens = s.params.max_tokens;
  if (codec_->tok.eos_id() >= 0) req.stop_ids.push_back(codec_->tok.eos_id());
  const int n_prompt = int(req.prompt.size());
  if (Status st = engine_->submit(std::move(req)); !st.ok()) {
    s.on_event(done_event(FinishReason::kError, Usage{n_prompt, 0}, std::move(st)));
    return;
  }
  active_.emplace(s.handle, Active{std::move(s.on_event), tokenizer::StreamDecoder(codec_->tok),
                                   StopMatcher(std::move(s.params.stop)), n_prompt, 0});
}

void ModelRunner::deliver(const std::vector<engine::TokenEvent>& events) {
  for (const engine::TokenEvent& ev : events) {
    auto it = active_.find(ev.request_id);
    if (it == active_.end()) continue;  // e.g. the cancellation after a stop string
    Active& a = it->second;
    GenerationEvent out;
    if (ev.token >= 0) {
      out.token = ev.token;
      ++a.completion_tokens;
      out.text = a.stops.push(a.decoder.push(ev.token));
    }
    const bool stopped = a.stops.stopped();
    if (!stopped && !ev.done) {
      a.on_event(std::move(out));
      continue;
    }
    FinishReason finish = FinishReason::kStop;
    if (stopped) {
      engine_->cancel(ev.request_id);  // no-op when the engine is done with it
    } else {
      out.text += a.stops.push(a.decoder.finish());
      out.text += a.stops.flush();
      finish = a.stops.stopped() ? FinishReason::kStop : to_finish(ev.reason);
    }
    out.done = true;
    out.finish = finish;
    out.usage = Usage{a.prompt_tokens, a.completion_tokens};
    GenerationCallback on_event = std::move(a.on_event);
    active_.erase(it);
    on_event(std::move(out));
  }
}

void ModelRunner::cancel_all(std::vector<Submission>& inbox) {
  for (auto& s : inbox) s.on_event(done_event(FinishReason::kCancelled, Usage{int(s.params.prompt.size()), 0}));
  inbox.clear();
  auto active = std::move(active_);
  active_.clear();
  for (auto& [handle, a] : active) {
    a.on_event(done_event(FinishReason::kCancelled, Usage{a.prompt_tokens, a.completion_tokens}));
  }
}

void ModelRunner::publish_stats() {
  const engine::EngineStats es = engine_->stats();
  std::lock_guard lock(mu_);
  engine_waiting_ = es.waiting;
  stats_.queued = es.waiting + int(inbox_.size());
  stats_.running = es.running;
  stats_.kv_blocks_used = es.kv_blocks_used;
  stats_.kv_blocks_free = es.kv_blocks_total - es.kv_blocks_used;
  stats_.prefix_cache_hits = es.prefix_hits;
  stats_.prefix_cache_tokens = es.tokens_from_prefix;
}

// ---- called from any thread -------------------------------------------------------

Status ModelRunner::not_ready_locked() const {
  return disconnected("model '" + params_.name + "' is " + model_state_name(state_) + ", not ready");
}

ModelInfo ModelRunner::info() const {
  std::lock_guard lock(mu_);
  ModelInfo m;
  m.name = params_.name;
  m.path = params_.path;
  m.state = state_;
  m.device = device_;
  m.memory_bytes = state_ == ModelState::kFailed ? 0 : memory_bytes_;
  m.context_length = context_length_;
  m.created = created_;
  m.error = error_;
  return m;
}

ModelStats ModelRunner::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Result<PromptInfo> ModelRunner::prompt_info() const {
  std::lock_guard lock(mu_);
  if (!codec_) return not_ready_locked();
  return codec_->prompt_info;
}

Result<std::vector<int32_t>> ModelRunner::tokenize(std::span<const PromptPiece> pieces, bool add_bos) const {
  std::shared_ptr<const ModelText> codec;
  {
    std::lock_guard lock(mu_);
    if (!codec_) return not_ready_locked();
    codec = codec_;
  }
  return codec->encoder.encode(pieces, add_bos && codec->tok.add_bos());
}

Status ModelRunner::submit(GenerationHandle handle, GenerationParams params, GenerationCallback on_event) {
  LLMOS_RETURN_IF_ERROR(engine::validate(to_engine(params.sampling)));
  if (params.prompt.empty()) return invalid_argument("the prompt is empty");
  if (params.max_tokens < 1) return invalid_argument("'max_tokens' must be at least 1");
  std::lock_guard lock(mu_);
  if (state_ != ModelState::kReady) return not_ready_locked();
  if (int(params.prompt.size()) >= context_length_) {
    return invalid_argument("the prompt has " + std::to_string(params.prompt.size()) + " tokens but the context of '" +
                            params_.name + "' holds " + std::to_string(context_length_) +
                            " (with room for at least one generated token)");
  }
  for (int32_t t : params.prompt) {
    if (t < 0 || t >= n_vocab_) {
      return invalid_argument("prompt token id " + std::to_string(t) + " is outside the vocabulary of " +
                              std::to_string(n_vocab_) + " tokens");
    }
  }
  if (engine_waiting_ + int(inbox_.size()) >= options_.max_queued) {
    return overloaded("model '" + params_.name + "' has " + std::to_string(options_.max_queued) +
                      " requests waiting; retry later");
  }
  inbox_.push_back(Submission{handle, std::move(params), std::move(on_event)});
  wake_.notify_one();
  return ok_status();
}

void ModelRunner::cancel(GenerationHandle handle) {
  std::lock_guard lock(mu_);
  if (exited_ || (state_ != ModelState::kReady && state_ != ModelState::kDraining)) return;
  cancels_.push_back(handle);
  wake_.notify_one();
}

Status ModelRunner::drain(std::function<void()> drained) {
  std::lock_guard lock(mu_);
  if (state_ != ModelState::kReady) return not_ready_locked();
  state_ = ModelState::kDraining;
  draining_ = true;
  drained_ = std::move(drained);
  wake_.notify_one();
  return ok_status();
}

void ModelRunner::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (state_ == ModelState::kReady) state_ = ModelState::kDraining;
  }
  wake_.notify_one();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // the last owner let go inside one of our own callbacks
  } else {
    thread_.join();
  }
}

}  // namespace llmos::http
