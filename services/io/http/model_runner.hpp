// ModelRunner: one model of a LocalBackend. Owns the model, its engine and
// one engine thread (load, then the step loop); calls each request's callback
// on that thread with no lock held. Thread-safe.
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/http/generation_backend.hpp"
#include "llmos/http/local_backend.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "llmos/http/model_text.hpp"
#include "llmos/http/stop_matcher.hpp"

namespace llmos::http {

class ModelRunner {
 public:
  // REQUIRES: params.name is set.
  ModelRunner(LoadParams params, const LocalBackendOptions& options);
  ~ModelRunner();  // shutdown()
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  // Starts the engine thread: load, `loaded(status)`, then the step loop
  // (which does not run when the load failed). Call once.
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
  // and `drained` runs on the engine thread, which then exits.
  Status drain(std::function<void()> drained);
  // Cancels every request (each gets its done event) and joins the thread.
  void shutdown();

 private:
  struct Submission {
    GenerationHandle handle;
    GenerationParams params;
    GenerationCallback on_event;
  };
  struct Active {
    GenerationCallback on_event;
    tokenizer::StreamDecoder decoder;
    StopMatcher stops;
    int prompt_tokens = 0;
    int completion_tokens = 0;
  };

  void run(std::function<void(Status)> loaded);
  Status load();
  void loop();
  void begin(Submission& s);
  void deliver(const std::vector<engine::TokenEvent>& events);
  void cancel_all(std::vector<Submission>& inbox);
  void publish_stats();
  Status not_ready_locked() const;

  const LoadParams params_;
  const LocalBackendOptions options_;
  const int64_t created_;

  // Submissions and cancellations cross to the engine thread through this
  // mutex-guarded inbox and condvar, not a Boost.Lockfree queue: the thread
  // must sleep when idle (a condvar either way), a request owns heap memory
  // (boost::lockfree::queue needs trivial types), producers are many (no
  // spsc_queue), and the lock is taken once per request, not per token.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  ModelState state_ = ModelState::kLoading;
  std::string error_;
  std::vector<Submission> inbox_;
  std::vector<GenerationHandle> cancels_;
  bool stopping_ = false;
  bool draining_ = false;
  bool exited_ = false;  // the loop ended
  std::function<void()> drained_;
  int engine_waiting_ = 0;  // published by the engine thread after each step
  ModelStats stats_;
  // Set by the engine thread before state_ becomes kReady, then immutable:
  std::shared_ptr<const ModelText> codec_;
  std::string device_;
  int context_length_ = 0;
  int n_vocab_ = 0;
  uint64_t memory_bytes_ = 0;

  // Engine thread only:
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Engine> engine_;
  std::unordered_map<GenerationHandle, Active> active_;
  std::vector<engine::TokenEvent> events_;

  std::thread thread_;
};

}  // namespace llmos::http
