// ModelRunner: one model of a LocalBackend. Loads it (a LocalModel) on a thread
// of its own, then hands the engine to an EngineHost; turns each request's
// tokens into text (GenerationText) and calls its callback on the engine
// thread with no lock held. Thread-safe.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "llmos/host/engine_host.hpp"
#include "llmos/http/generation_backend.hpp"
#include "llmos/http/generation_text.hpp"
#include "llmos/http/local_backend.hpp"
#include "llmos/http/local_model.hpp"

namespace llmos::http {

class ModelRunner final : public host::EngineListener {
 public:
  // REQUIRES: params.name is set.
  ModelRunner(LoadParams params, const LocalBackendOptions& options);
  ~ModelRunner() override;  // shutdown()
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  // Loads the model on a thread of its own, calls `loaded(status)` there and,
  // when the load succeeded, starts the engine. Call once.
  void start(std::function<void(Status)> loaded);

  const std::string& name() const { return params_.name; }
  ModelInfo info() const;
  ModelStats stats() const;
  Result<PromptInfo> prompt_info() const;
  Result<std::vector<int32_t>> tokenize(std::span<const PromptPiece> pieces, bool add_bos) const;
  // Errors as GenerationBackend::submit.
  Status submit(GenerationHandle handle, GenerationParams params, GenerationCallback on_event);
  void cancel(GenerationHandle handle);
  // Stops taking requests; once the running ones finished the model is freed
  // and `drained` runs on the engine thread.
  Status drain(std::function<void()> drained);
  // Cancels every request (each gets its done event) and stops the threads.
  void shutdown();

 private:
  struct Active {
    GenerationCallback on_event;
    GenerationText text;
  };

  // host::EngineListener: for its EngineHost only (the engine thread).
  void on_events(std::span<const engine::TokenEvent> events) override;
  void on_refused(uint64_t request_id, Status status) override;
  void on_drained() override;

  void load(const std::function<void(Status)>& loaded);
  Status not_ready_locked() const;

  const LoadParams params_;
  const LocalBackendOptions options_;
  const int64_t created_;

  mutable std::mutex mu_;
  ModelState state_ = ModelState::kLoading;
  std::string error_;
  bool stopping_ = false;
  std::function<void()> drained_;
  // Set before state_ becomes kReady, then immutable:
  std::string device_;
  int context_length_ = 0;
  int n_vocab_ = 0;
  uint64_t memory_bytes_ = 0;
  LocalModel local_;  // its engine moves into host_; freed when drained

  std::unique_ptr<host::EngineHost> host_;
  // Requests the engine runs (guarded by mu_; their callbacks run unlocked).
  std::unordered_map<GenerationHandle, Active> active_;

  // Engine thread only: what one step delivers, built under the lock, called after.
  // Ended requests leave active_ as node handles, so the callback pointers
  // in outbox_ stay valid until the calls are made.
  std::vector<std::pair<GenerationCallback*, GenerationEvent>> outbox_;
  std::vector<std::unordered_map<GenerationHandle, Active>::node_type> finished_;

  std::thread loader_;
};

}  // namespace llmos::http
