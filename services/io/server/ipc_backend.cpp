#include "ipc_backend.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <filesystem>

#include "io_server.hpp"

namespace llmos::io_service {
namespace {

// What the kernel cannot check for us. It validates the prompt's length
// against the context and the sampling values itself (its errors reach the
// client with their own status: an SSE stream begins at the first token), but
// it never sees the vocabulary, and these ints become unsigned on the wire.
Status check_request(const http::GenerationParams& p, const ModelSnapshot& m) {
  LLMOS_RETURN_IF_ERROR(validate_sampling(p.sampling));
  LLMOS_RETURN_IF_ERROR(validate_max_tokens(p.max_tokens));
  for (int32_t t : p.prompt) {
    if (t < 0 || (m.vocab_size > 0 && uint32_t(t) >= m.vocab_size)) {
      return invalid_argument("prompt token id " + std::to_string(t) + " is outside the vocabulary of " +
                              std::to_string(m.vocab_size) + " tokens");
    }
  }
  return ok_status();
}

}  // namespace

IpcBackend::IpcBackend(IoServer& server, boost::asio::io_context& io, ModelTextCache& texts)
    : server_(server), io_(io), texts_(texts) {}

Status IpcBackend::kernel_silent_locked() const {
  if (answered_ == std::chrono::steady_clock::time_point{}) {
    return disconnected("the kernel (llmosd) has not answered yet");
  }
  if (std::chrono::steady_clock::now() - answered_ > kKernelSilence) {
    return disconnected("the kernel (llmosd) has not answered for over " + std::to_string(kKernelSilence.count()) +
                        " ms");
  }
  return ok_status();
}

Result<std::vector<http::ModelInfo>> IpcBackend::list_models() {
  std::lock_guard lock(mu_);
  LLMOS_RETURN_IF_ERROR(kernel_silent_locked());
  std::vector<http::ModelInfo> out;
  for (const auto& m : models_) out.push_back(m.info);
  return out;
}

Result<std::pair<ModelSnapshot, ModelTextPtr>> IpcBackend::ready_model(std::string_view name) {
  ModelSnapshot model;
  {
    std::lock_guard lock(mu_);
    LLMOS_RETURN_IF_ERROR(kernel_silent_locked());
    auto it = std::find_if(models_.begin(), models_.end(), [&](const ModelSnapshot& m) { return m.info.name == name; });
    if (it == models_.end()) return not_found("model '" + std::string(name) + "' not found");
    model = *it;
  }
  if (model.info.state != ModelState::kReady) {
    return disconnected("model '" + model.info.name + "' is " + std::string(model_state_name(model.info.state)) +
                        ", not ready");
  }
  LLMOS_ASSIGN_OR_RETURN(ModelTextPtr text, texts_.get(model.info.name, model.info.path, model.chat_template_file));
  return std::make_pair(std::move(model), std::move(text));
}

Result<http::PromptInfo> IpcBackend::prompt_info(std::string_view model) {
  LLMOS_ASSIGN_OR_RETURN(auto ready, ready_model(model));
  return ready.second->prompt_info;
}

Result<std::vector<int32_t>> IpcBackend::tokenize(std::string_view model, std::span<const http::PromptPiece> pieces,
                                                  bool add_bos) {
  LLMOS_ASSIGN_OR_RETURN(auto ready, ready_model(model));
  const http::ModelText& text = *ready.second;
  return text.encoder.encode(pieces, add_bos && text.tok.add_bos());
}

Result<http::GenerationHandle> IpcBackend::submit(http::GenerationParams params, http::GenerationCallback on_event) {
  LLMOS_ASSIGN_OR_RETURN(auto ready, ready_model(params.model));
  LLMOS_RETURN_IF_ERROR(check_request(params, ready.first));
  // A full queue, or a model that went away meanwhile, is the kernel's to
  // say: it arrives as a done event with the error.
  const uint64_t id = server_.next_id();
  boost::asio::post(io_, [this, id, params = std::move(params), text = std::move(ready.second),
                          on_event = std::move(on_event)]() mutable {
    server_.start_http_stream(id, std::move(params), std::move(text), std::move(on_event));
  });
  return id;
}

void IpcBackend::cancel(http::GenerationHandle handle) {
  boost::asio::post(io_, [this, handle] { server_.cancel_stream(handle, "the HTTP client went away"); });
}

void IpcBackend::load_model(http::LoadParams params, std::function<void(Status)> done) {
  if (params.name.empty()) params.name = std::filesystem::path(params.path).stem().string();
  boost::asio::post(io_, [this, params = std::move(params), done = std::move(done)]() mutable {
    server_.admin_load(std::move(params), std::move(done));
  });
}

void IpcBackend::ensure_model(std::string name, std::string keep_alive,
                              std::function<void(Result<http::EnsuredModel>)> done) {
  boost::asio::post(io_, [this, name = std::move(name), keep_alive = std::move(keep_alive),
                          done = std::move(done)]() mutable {
    server_.admin_ensure(std::move(name), std::move(keep_alive), std::move(done));
  });
}

void IpcBackend::release_model(uint64_t reservation) {
  if (reservation == 0) return;
  boost::asio::post(io_, [this, reservation] { server_.release_reservation(reservation); });
}

void IpcBackend::unload_model(std::string name, std::function<void(Status)> done) {
  boost::asio::post(io_, [this, name = std::move(name), done = std::move(done)]() mutable {
    server_.admin_unload(std::move(name), std::move(done));
  });
}

Result<http::BackendStats> IpcBackend::stats() {
  std::lock_guard lock(mu_);
  LLMOS_RETURN_IF_ERROR(kernel_silent_locked());
  http::BackendStats out;
  for (const auto& m : models_) out.models.push_back(m.stats);
  out.service_restarts = service_restarts_;
  out.engine = engine_;
  return out;
}

void IpcBackend::set_models(std::vector<ModelSnapshot> models) {
  std::lock_guard lock(mu_);
  models_ = std::move(models);
  answered_ = std::chrono::steady_clock::now();
}

void IpcBackend::upsert_model(ModelSnapshot model) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(models_.begin(), models_.end(),
                         [&](const ModelSnapshot& m) { return m.info.name == model.info.name; });
  if (it == models_.end()) {
    models_.push_back(std::move(model));
  } else {
    *it = std::move(model);
  }
}

void IpcBackend::remove_model(const std::string& name) {
  std::lock_guard lock(mu_);
  std::erase_if(models_, [&](const ModelSnapshot& m) { return m.info.name == name; });
}

void IpcBackend::set_system_counters(uint64_t service_restarts, const EngineCounters& engine) {
  std::lock_guard lock(mu_);
  service_restarts_ = service_restarts;
  engine_ = engine;
  answered_ = std::chrono::steady_clock::now();
}

}  // namespace llmos::io_service
