// LocalBackend: the GenerationBackend in this process, over the engine: one
// ModelRunner per loaded model (its GGUF file, Model, Engine, tokenizer and
// one engine thread running the step loop). What `llmos serve --local` uses
// until the microkernel's I/O service exists. Thread-safe; the destructor
// cancels every generation (each still gets its done event) and joins the
// engine threads.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

class ModelRunner;

struct LocalBackendOptions {
  int threads = 0;             // CPU driver threads per model; 0 = one per core
  int max_seqs = 16;           // sequences decoding at once, per model
  int max_queued = 64;         // waiting requests per model before submit() says overloaded
  int max_batch_tokens = 512;  // tokens one engine step may carry
  int kv_tokens = 0;           // KV cache capacity over all sequences; 0 = one context
};

class LocalBackend final : public GenerationBackend {
 public:
  explicit LocalBackend(LocalBackendOptions options = {});
  ~LocalBackend() override;
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;

  // load_model() and waits for it.
  Status load_model_and_wait(LoadParams params);

  Result<std::vector<ModelInfo>> list_models() override;
  Result<PromptInfo> prompt_info(std::string_view model) override;
  Result<std::vector<int32_t>> tokenize(std::string_view model, std::span<const PromptPiece> pieces,
                                        bool add_bos) override;
  Result<GenerationHandle> submit(GenerationParams params, GenerationCallback on_event) override;
  void cancel(GenerationHandle handle) override;
  // The load runs on the new model's engine thread. invalid_argument now
  // (through `done`) for a name already in use.
  void load_model(LoadParams params, std::function<void(Status)> done) override;
  void unload_model(std::string name, std::function<void(Status)> done) override;
  Result<BackendStats> stats() override;

 private:
  Result<std::shared_ptr<ModelRunner>> find(std::string_view name);
  void retire(const std::string& name);  // a drained runner leaves models_
  void reap();                           // joins retired runners; REQUIRES mu_ held

  const LocalBackendOptions options_;
  std::atomic<GenerationHandle> next_handle_{1};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ModelRunner>, std::less<>> models_;
  std::vector<std::shared_ptr<ModelRunner>> retired_;  // drained, thread to join
};

}  // namespace llmos::http
