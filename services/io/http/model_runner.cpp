#include "model_runner.hpp"

#include <ctime>

namespace llmos::http {
namespace {

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
  outbox_.reserve(size_t(options_.max_seqs));
  finished_.reserve(size_t(options_.max_seqs));
}

ModelRunner::~ModelRunner() { shutdown(); }

void ModelRunner::start(std::function<void(Status)> loaded) {
  loader_ = std::thread([this, loaded = std::move(loaded)] { load(loaded); });
}

void ModelRunner::load(const std::function<void(Status)>& loaded) {
  LocalModelOptions o;
  o.chat_template_file = params_.chat_template_file;
  o.threads = params_.threads > 0 ? params_.threads : options_.threads;
  o.max_seqs = options_.max_seqs;
  o.max_batch_tokens = options_.max_batch_tokens;
  o.ctx = params_.ctx;
  o.kv_tokens = options_.kv_tokens;
  auto model = open_local_model(params_.path, o);
  Status st = model.status();
  {
    std::lock_guard lock(mu_);
    if (!model.ok()) {
      state_ = ModelState::kFailed;
      error_ = st.message();
    } else if (!stopping_) {
      local_ = std::move(model).value();
      device_ = local_.device;
      context_length_ = params_.ctx > 0 ? params_.ctx : local_.model->config().ctx_len;
      n_vocab_ = local_.model->config().n_vocab;
      memory_bytes_ = local_.memory_bytes;
      host_ = std::make_unique<host::EngineHost>(std::move(local_.engine), *this);
      state_ = ModelState::kReady;
    }
  }
  if (loaded) loaded(st);
}

// ---- the engine thread --------------------------------------------------------------

void ModelRunner::on_events(std::span<const engine::TokenEvent> events) {
  {
    std::lock_guard lock(mu_);
    for (const engine::TokenEvent& ev : events) {
      auto it = active_.find(ev.request_id);
      if (it == active_.end()) continue;  // e.g. the cancellation after a stop string
      Active& a = it->second;
      GenerationEvent out;
      if (ev.token >= 0) out = a.text.push(ev.token);
      if (a.text.ended()) {
        if (ev.token >= 0 && !ev.done && host_) host_->cancel(ev.request_id);  // a stop string: end the rest
      } else if (ev.done) {
        GenerationEvent end = a.text.finish(ev.reason);
        end.token = out.token;
        end.text = out.text + end.text;
        out = std::move(end);
      }
      outbox_.emplace_back(&a.on_event, std::move(out));
      if (a.text.ended()) finished_.push_back(active_.extract(it));
    }
  }
  for (auto& [callback, event] : outbox_) (*callback)(std::move(event));
  outbox_.clear();
  finished_.clear();
}

void ModelRunner::on_refused(uint64_t request_id, Status status) {
  GenerationCallback on_event;
  Usage usage;
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(request_id);
    if (it == active_.end()) return;
    on_event = std::move(it->second.on_event);
    usage = it->second.text.usage();
    active_.erase(it);
  }
  on_event(done_event(FinishReason::kError, usage, std::move(status)));
}

void ModelRunner::on_drained() {
  std::function<void()> drained;
  {
    std::lock_guard lock(mu_);
    local_ = LocalModel{};  // the host destroyed the engine: the model can go
    drained = std::move(drained_);
  }
  if (drained) drained();
}

// ---- called from any thread -------------------------------------------------------

Status ModelRunner::not_ready_locked() const {
  return disconnected("model '" + params_.name + "' is " + std::string(model_state_name(state_)) + ", not ready");
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
  ModelStats m;
  m.name = params_.name;
  if (!host_ || !local_.model) return m;
  const host::EngineHostStats& s = host_->stats();
  m.queued = int(host_->waiting());
  m.running = int(s.running.load());
  m.kv_blocks_used = int(s.kv_blocks_used.load());
  m.kv_blocks_free = int(s.kv_blocks_total.load()) - m.kv_blocks_used;
  m.memory_bytes = local_.memory_bytes;
  m.engine = s.engine_counters();
  return m;
}

Result<PromptInfo> ModelRunner::prompt_info() const {
  std::lock_guard lock(mu_);
  if (!local_.text) return not_ready_locked();
  return local_.text->prompt_info;
}

Result<std::vector<int32_t>> ModelRunner::tokenize(std::span<const PromptPiece> pieces, bool add_bos) const {
  std::shared_ptr<const ModelText> text;
  {
    std::lock_guard lock(mu_);
    if (!local_.text) return not_ready_locked();
    text = local_.text;
  }
  return text->encoder.encode(pieces, add_bos && text->tok.add_bos());
}

Status ModelRunner::submit(GenerationHandle handle, GenerationParams params, GenerationCallback on_event) {
  LLMOS_RETURN_IF_ERROR(validate_sampling(params.sampling));
  if (params.prompt.empty()) return invalid_argument("the prompt is empty");
  LLMOS_RETURN_IF_ERROR(validate_max_tokens(params.max_tokens));
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
  if (int(host_->waiting()) >= options_.max_queued) {
    return overloaded("model '" + params_.name + "' has " + std::to_string(options_.max_queued) +
                      " requests waiting; retry later");
  }
  engine::GenerationRequest req;
  req.id = handle;
  req.sampling = params.sampling;
  req.max_tokens = params.max_tokens;
  if (local_.text->tok.eos_id() >= 0) req.stop_ids.push_back(local_.text->tok.eos_id());
  const int n_prompt = int(params.prompt.size());
  req.prompt = std::move(params.prompt);
  active_.emplace(handle, Active{std::move(on_event), GenerationText(local_.text->tok, std::move(params.stop), n_prompt)});
  host_->submit(std::move(req), params.priority);
  return ok_status();
}

void ModelRunner::cancel(GenerationHandle handle) {
  std::lock_guard lock(mu_);
  if (host_ && active_.count(handle)) host_->cancel(handle);
}

Status ModelRunner::drain(std::function<void()> drained) {
  std::lock_guard lock(mu_);
  if (state_ != ModelState::kReady) return not_ready_locked();
  state_ = ModelState::kDraining;
  drained_ = std::move(drained);
  host_->drain();
  return ok_status();
}

void ModelRunner::shutdown() {
  std::unique_ptr<host::EngineHost> host;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (state_ == ModelState::kReady) state_ = ModelState::kDraining;
  }
  if (loader_.joinable()) {
    if (loader_.get_id() == std::this_thread::get_id()) {
      loader_.detach();  // the last owner let go inside the load callback
    } else {
      loader_.join();
    }
  }
  host::EngineHost* running = nullptr;
  {
    std::lock_guard lock(mu_);
    running = host_.get();  // reset only below, after the engine thread is gone
  }
  if (running) running->stop();  // joins the engine thread: nothing below races with it
  {
    std::lock_guard lock(mu_);
    host = std::move(host_);
  }
  std::unordered_map<GenerationHandle, Active> active;
  {
    std::lock_guard lock(mu_);
    active.swap(active_);
  }
  for (auto& [handle, a] : active) a.on_event(done_event(FinishReason::kCancelled, a.text.usage()));
  host.reset();
  std::lock_guard lock(mu_);
  local_ = LocalModel{};
}

}  // namespace llmos::http
