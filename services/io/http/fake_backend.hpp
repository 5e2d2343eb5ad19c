// FakeBackend: a scripted GenerationBackend for the HTTP layer's tests. Each
// generation emits the script's chunks (one "token" each) from its own thread,
// applying stop strings like a real backend, and records what it was asked.
// Thread-safe. Test-only.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat_template.hpp"
#include "llmos/http/generation_backend.hpp"
#include "llmos/http/stop_matcher.hpp"

namespace llmos::http::testing {

class FakeBackend final : public GenerationBackend {
 public:
  FakeBackend() {
    ModelInfo m;
    m.name = "fake";
    m.path = "/models/fake.gguf";
    m.state = ModelState::kReady;
    m.device = "cpu";
    m.memory_bytes = 1000;
    m.context_length = 64;
    models_.push_back(m);
  }
  ~FakeBackend() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      threads.swap(threads_);
    }
    changed_.notify_all();
    for (auto& t : threads) t.join();
  }

  // ---- test controls ----
  std::vector<std::string> script = {"Once", " upon", " a", " time", ",", " there", " was", " a", " cat", "."};
  std::chrono::milliseconds token_delay{0};
  std::string chat_template;
  std::atomic<bool> overloaded_now{false};
  std::atomic<bool> down{false};
  // Runs at the start of every tokenize() (on the calling thread); a test
  // blocks it to hold a prompt mid-tokenization. Set before any request.
  std::function<void(std::string_view prompt_text)> before_tokenize;

  void set_models(std::vector<ModelInfo> models) {
    std::lock_guard lock(mu_);
    models_ = std::move(models);
  }
  std::vector<GenerationParams> submitted() {
    std::lock_guard lock(mu_);
    return submitted_;
  }
  int active() {
    std::lock_guard lock(mu_);
    return active_;
  }
  // Waits until `n` generations were cancelled (true) or the timeout passed.
  bool wait_cancelled(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return cancelled_.size() >= n; });
  }
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return active_ == 0; });
  }

  // ---- GenerationBackend ----
  Result<std::vector<ModelInfo>> list_models() override {
    if (down) return disconnected("the system does not answer");
    std::lock_guard lock(mu_);
    return models_;
  }
  Result<PromptInfo> prompt_info(std::string_view model) override {
    LLMOS_RETURN_IF_ERROR(find(model));
    PromptInfo info{chat_template, "<s>", "</s>", nullptr, ""};
    if (!chat_template.empty()) {  // parsed per call here; a real backend parses once at load
      auto t = ChatTemplate::load(chat_template, info.bos_text, info.eos_text);
      if (t.ok()) {
        info.chat = *t;
      } else {
        info.chat_template_error = "the model's tokenizer.chat_template cannot be rendered: " + t.status().message();
      }
    }
    return info;
  }
  // One id per byte (the byte value + 3), BOS = 1.
  Result<std::vector<int32_t>> tokenize(std::string_view model, std::span<const PromptPiece> pieces,
                                        bool add_bos) override {
    LLMOS_RETURN_IF_ERROR(find(model));
    if (before_tokenize) {
      std::string text;
      for (const auto& p : pieces) text += p.text;
      before_tokenize(text);
    }
    std::vector<int32_t> ids;
    if (add_bos) ids.push_back(1);
    for (const auto& p : pieces) {
      for (unsigned char c : p.text) ids.push_back(int32_t(c) + 3);
    }
    std::lock_guard lock(mu_);
    last_prompt_text_.clear();
    for (const auto& p : pieces) last_prompt_text_ += p.text;
    return ids;
  }
  std::string last_prompt_text() {
    std::lock_guard lock(mu_);
    return last_prompt_text_;
  }

  Result<GenerationHandle> submit(GenerationParams params, GenerationCallback on_event) override {
    if (down) return disconnected("the system does not answer");
    if (overloaded_now) return overloaded("too many requests queued");
    LLMOS_RETURN_IF_ERROR(find(params.model));
    std::lock_guard lock(mu_);
    const GenerationHandle h = next_++;
    submitted_.push_back(params);
    ++active_;
    threads_.emplace_back([this, h, params, cb = std::move(on_event)] { generate(h, params, cb); });
    return h;
  }
  void cancel(GenerationHandle handle) override {
    std::lock_guard lock(mu_);
    cancel_requests_.insert(handle);
    changed_.notify_all();
  }
  void load_model(LoadParams params, std::function<void(Status)> done) override {
    {
      std::lock_guard lock(mu_);
      ModelInfo m;
      m.name = params.name;
      m.path = params.path;
      m.state = ModelState::kReady;
      m.context_length = params.ctx == 0 ? 64 : params.ctx;
      models_.push_back(m);
    }
    done(ok_status());
  }
  // Load on demand (when `on_demand`), as the kernel answers ensureModel: a
  // loaded model (as named, or as "NAME:latest") answers at once; a name in
  // `stored` becomes the ready model "NAME:latest"; any other is not_found;
  // with `ensure_failure` set every ask gets it. Each call is counted, and
  // hands out a reservation (1, 2, ...) whose releases are recorded.
  bool on_demand = false;
  std::set<std::string> stored;
  std::optional<Status> ensure_failure;
  std::atomic<int> ensure_calls{0};
  bool loads_on_demand() const override { return on_demand; }
  void ensure_model(std::string name, std::string keep_alive, std::function<void(Result<EnsuredModel>)> done) override {
    (void)keep_alive;
    const uint64_t reservation = uint64_t(++ensure_calls);
    if (ensure_failure) return done(*ensure_failure);
    const std::string tagged = name.find(':') == std::string::npos ? name + ":latest" : name;
    for (const std::string& n : {name, tagged}) {
      if (find(n).ok()) return done(EnsuredModel{n, reservation});
    }
    if (!stored.count(name)) return done(not_found("model '" + tagged + "' is not in the store"));
    load_model(LoadParams{"/store/" + name, tagged}, [](Status) {});
    done(EnsuredModel{tagged, reservation});
  }
  void release_model(uint64_t reservation) override {
    std::lock_guard lock(mu_);
    released_.push_back(reservation);
  }
  std::vector<uint64_t> released() {
    std::lock_guard lock(mu_);
    return released_;
  }
  void unload_model(std::string name, std::function<void(Status)> done) override {
    Status st = not_found("model '" + name + "' not found");
    {
      std::lock_guard lock(mu_);
      for (auto it = models_.begin(); it != models_.end(); ++it) {
        if (it->name == name) {
          models_.erase(it);
          st = ok_status();
          break;
        }
      }
    }
    done(st);
  }
  Result<BackendStats> stats() override {
    if (down) return disconnected("the system does not answer");
    BackendStats s;
    std::lock_guard lock(mu_);
    for (const auto& m : models_) s.models.push_back(ModelStats{m.name, 0, active_, 1, 7, m.memory_bytes});
    s.service_restarts = 2;
    return s;
  }

 private:
  Status find(std::string_view model) {
    std::lock_guard lock(mu_);
    for (const auto& m : models_) {
      if (m.name == model) return ok_status();
    }
    return not_found("model '" + std::string(model) + "' not found");
  }

  void generate(GenerationHandle h, const GenerationParams& params, const GenerationCallback& cb) {
    StopMatcher stops(params.stop);
    const int n = std::min<int>(params.max_tokens, int(script.size()));
    Usage usage{int(params.prompt.size()), 0};
    FinishReason finish = n < int(script.size()) ? FinishReason::kLength : FinishReason::kStop;
    for (int i = 0; i < n; ++i) {
      {
        std::unique_lock lock(mu_);
        changed_.wait_for(lock, token_delay, [&] { return stopping_ || cancel_requests_.count(h) > 0; });
        if (stopping_ || cancel_requests_.count(h)) {
          finish = FinishReason::kCancelled;
          cancelled_.insert(h);
          break;
        }
      }
      GenerationEvent ev;
      ev.token = 100 + i;
      ev.text = stops.push(script[size_t(i)]);
      ++usage.completion_tokens;
      if (stops.stopped()) {
        finish = FinishReason::kStop;
        ev.done = true;
        ev.finish = finish;
        ev.usage = usage;
        cb(std::move(ev));
        return finished();
      }
      cb(std::move(ev));
    }
    GenerationEvent done;
    done.done = true;
    done.finish = finish;
    done.text = finish == FinishReason::kCancelled ? "" : stops.flush();
    done.usage = usage;
    cb(std::move(done));
    finished();
  }
  void finished() {
    std::lock_guard lock(mu_);
    --active_;
    changed_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<ModelInfo> models_;
  std::vector<GenerationParams> submitted_;
  std::vector<uint64_t> released_;  // release_model calls, in order
  std::set<GenerationHandle> cancel_requests_, cancelled_;
  std::vector<std::thread> threads_;
  std::string last_prompt_text_;
  GenerationHandle next_ = 1;
  int active_ = 0;
  bool stopping_ = false;
};

}  // namespace llmos::http::testing
