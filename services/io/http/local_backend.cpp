#include "llmos/http/local_backend.hpp"

#include <filesystem>
#include <future>

#include "model_runner.hpp"

namespace llmos::http {

LocalBackend::LocalBackend(LocalBackendOptions options) : options_(options) {}

LocalBackend::~LocalBackend() {
  std::vector<std::shared_ptr<ModelRunner>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, runner] : models_) all.push_back(std::move(runner));
    models_.clear();
    for (auto& r : retired_) all.push_back(std::move(r));
    retired_.clear();
  }
  for (auto& r : all) r->shutdown();
}

Result<std::shared_ptr<ModelRunner>> LocalBackend::find(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return not_found("model '" + std::string(name) + "' not found");
  return it->second;
}

void LocalBackend::retire(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return;
  retired_.push_back(std::move(it->second));
  models_.erase(it);
}

void LocalBackend::reap() {
  std::vector<std::shared_ptr<ModelRunner>> done;
  {
    std::lock_guard lock(mu_);
    done.swap(retired_);
  }
  for (auto& r : done) r->shutdown();  // joins a thread that has finished (or is finishing)
}

Status LocalBackend::load_model_and_wait(LoadParams params) {
  std::promise<Status> loaded;
  auto result = loaded.get_future();
  load_model(std::move(params), [&loaded](Status st) { loaded.set_value(std::move(st)); });
  return result.get();
}

Result<std::vector<ModelInfo>> LocalBackend::list_models() {
  std::vector<ModelInfo> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, runner] : models_) out.push_back(runner->info());
  return out;
}

Result<PromptInfo> LocalBackend::prompt_info(std::string_view model) {
  LLMOS_ASSIGN_OR_RETURN(auto runner, find(model));
  return runner->prompt_info();
}

Result<std::vector<int32_t>> LocalBackend::tokenize(std::string_view model, std::span<const PromptPiece> pieces,
                                                    bool add_bos) {
  LLMOS_ASSIGN_OR_RETURN(auto runner, find(model));
  return runner->tokenize(pieces, add_bos);
}

Result<GenerationHandle> LocalBackend::submit(GenerationParams params, GenerationCallback on_event) {
  LLMOS_ASSIGN_OR_RETURN(auto runner, find(params.model));
  const GenerationHandle handle = next_handle_.fetch_add(1);
  LLMOS_RETURN_IF_ERROR(runner->submit(handle, std::move(params), std::move(on_event)));
  return handle;
}

void LocalBackend::cancel(GenerationHandle handle) {
  // Handles are unique across models; a model ignores the ones it does not run.
  std::lock_guard lock(mu_);
  for (const auto& [name, runner] : models_) runner->cancel(handle);
}

void LocalBackend::load_model(LoadParams params, std::function<void(Status)> done) {
  reap();
  if (params.device == "cuda") {  // "auto" is the CPU here
    if (done) done(unimplemented("`llmos serve --local` runs models on the CPU; use device \"cpu\" or \"auto\", "
                                 "or the system (`llmos up`) for CUDA"));
    return;
  }
  if (params.name.empty()) params.name = std::filesystem::path(params.path).stem().string();
  std::shared_ptr<ModelRunner> runner;
  Status refused;
  {
    std::lock_guard lock(mu_);
    auto it = models_.find(params.name);
    if (it != models_.end() && it->second->info().state == ModelState::kFailed) {
      retired_.push_back(std::move(it->second));  // a failed load gives its name back
      models_.erase(it);
      it = models_.end();
    }
    if (it != models_.end()) {
      refused = invalid_argument("a model named '" + params.name + "' is already loaded (" +
                                 std::string(model_state_name(it->second->info().state)) + ")");
    } else {
      runner = std::make_shared<ModelRunner>(params, options_);
      models_.emplace(params.name, runner);
    }
  }
  if (!refused.ok()) {
    if (done) done(std::move(refused));
    return;
  }
  runner->start(std::move(done));
}

void LocalBackend::unload_model(std::string name, std::function<void(Status)> done) {
  reap();
  auto runner = find(name);
  if (!runner.ok()) {
    if (done) done(runner.status());
    return;
  }
  Status st = (*runner)->drain([this, name, done] {
    retire(name);
    if (done) done(ok_status());
  });
  if (!st.ok() && done) done(std::move(st));
}

Result<BackendStats> LocalBackend::stats() {
  BackendStats out;
  std::lock_guard lock(mu_);
  for (const auto& [name, runner] : models_) {
    out.models.push_back(runner->stats());
    out.engine += out.models.back().engine;
  }
  return out;
}

}  // namespace llmos::http
