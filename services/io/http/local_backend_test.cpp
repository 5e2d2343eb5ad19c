// LocalBackend over a real (synthetic, seeded) model written by llmos_modelgen:
// load, generate, stop strings, cancel, unload, and the errors a client sees.
#include "llmos/http/local_backend.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <thread>
#include <mutex>
#include <string>
#include <vector>

#include "tiny_model.hpp"

namespace llmos::http {
namespace {

using namespace std::chrono_literals;

// Collects one generation's events; wait() blocks until its done event.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  std::vector<int32_t> tokens;
  bool done = false;
  GenerationEvent last;

  GenerationCallback callback() {
    return [this](GenerationEvent&& ev) {
      std::lock_guard lock(mu);
      text += ev.text;
      if (ev.token >= 0) tokens.push_back(ev.token);
      if (ev.done) {
        done = true;
        last = std::move(ev);
        cv.notify_all();
      }
    };
  }
  bool wait() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 30s, [&] { return done; });
  }
};

GenerationParams params(LocalBackend& b, const std::string& prompt, int max_tokens, float temperature = 0) {
  GenerationParams p;
  p.model = "tiny";
  const PromptPiece piece{prompt, false};
  auto ids = b.tokenize("tiny", std::span(&piece, 1), true);
  REQUIRE(ids.ok());
  p.prompt = *ids;
  p.max_tokens = max_tokens;
  p.sampling.temperature = temperature;
  p.sampling.seed = 7;
  return p;
}

LocalBackendOptions small() {
  LocalBackendOptions o;
  o.threads = 1;
  o.max_seqs = 4;
  return o;
}

TEST_CASE("load, list, generate greedily and reproducibly, unload") {
  LocalBackend b(small());
  REQUIRE(b.load_model_and_wait(LoadParams{testing::tiny_model_path(), "", 128}).ok());
  auto models = b.list_models();
  REQUIRE(models.ok());
  REQUIRE(models->size() == 1);
  const ModelInfo& m = models->front();
  CHECK(m.name == "tiny");
  CHECK(m.state == ModelState::kReady);
  CHECK(m.device == "cpu");
  CHECK(m.context_length == 128);
  CHECK(m.memory_bytes > 0);

  Collector a, again;
  REQUIRE(b.submit(params(b, "hello", 12), a.callback()).ok());
  REQUIRE(b.submit(params(b, "hello", 12), again.callback()).ok());
  REQUIRE(a.wait());
  REQUIRE(again.wait());
  CHECK(a.tokens.size() <= 12);
  CHECK(a.tokens == again.tokens);
  CHECK(a.text == again.text);
  CHECK(a.last.usage.completion_tokens == int(a.tokens.size()));
  CHECK(a.last.usage.prompt_tokens == int(params(b, "hello", 1).prompt.size()));
  if (a.tokens.size() == 12) CHECK(a.last.finish == FinishReason::kLength);

  auto stats = b.stats();
  REQUIRE(stats.ok());
  REQUIRE(stats->models.size() == 1);
  CHECK(stats->models[0].kv_blocks_used == 0);
  CHECK(stats->models[0].kv_blocks_free == 8);  // 128 tokens in blocks of 16

  std::mutex mu;
  std::condition_variable cv;
  bool unloaded = false;
  Status unload_status = internal_error("not called");
  b.unload_model("tiny", [&](Status st) {
    std::lock_guard lock(mu);
    unload_status = std::move(st);
    unloaded = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 30s, [&] { return unloaded; }));
  }
  CHECK(unload_status.ok());
  CHECK(b.list_models()->empty());
  Collector late;
  GenerationParams gone;
  gone.model = "tiny";
  gone.prompt = {1, 5};
  CHECK(b.submit(gone, late.callback()).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("seeded sampling repeats itself") {
  LocalBackend b(small());
  REQUIRE(b.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 0}).ok());
  Collector a, c;
  REQUIRE(b.submit(params(b, "once", 16, 0.9f), a.callback()).ok());
  REQUIRE(a.wait());
  REQUIRE(b.submit(params(b, "once", 16, 0.9f), c.callback()).ok());
  REQUIRE(c.wait());
  CHECK(a.tokens == c.tokens);
}

TEST_CASE("a stop string ends the text right before it") {
  LocalBackend b(small());
  REQUIRE(b.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 0}).ok());
  Collector full;
  REQUIRE(b.submit(params(b, "hello", 40), full.callback()).ok());
  REQUIRE(full.wait());
  // Stop at a piece of the middle of the text the model writes anyway.
  if (full.text.size() < 6) return;
  const std::string stop = full.text.substr(full.text.size() / 2, 2);
  const std::string want = full.text.substr(0, full.text.find(stop));
  Collector cut;
  auto p = params(b, "hello", 40);
  p.stop = {stop};
  REQUIRE(b.submit(p, cut.callback()).ok());
  REQUIRE(cut.wait());
  CHECK(cut.text == want);
  CHECK(cut.last.finish == FinishReason::kStop);
}

TEST_CASE("cancel ends a generation with its done event; shutdown cancels the rest") {
  Collector c, pending;
  {
    LocalBackend b(small());
    REQUIRE(b.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 0}).ok());
    // Cancelled from its own first token, so the timing cannot let it finish first.
    std::atomic<GenerationHandle> handle{0};
    bool cancelled = false;
    auto collect = c.callback();
    auto h = b.submit(params(b, "hello", 200), [&](GenerationEvent&& ev) {
      if (ev.token >= 0 && !cancelled) {
        cancelled = true;
        while (handle.load() == 0) std::this_thread::yield();
        b.cancel(handle.load());
      }
      collect(std::move(ev));
    });
    REQUIRE(h.ok());
    handle.store(*h);
    REQUIRE(c.wait());
    CHECK(c.last.finish == FinishReason::kCancelled);
    CHECK(c.tokens.size() < 200);
    REQUIRE(b.submit(params(b, "hello", 240), pending.callback()).ok());
  }  // the destructor cancels it
  CHECK(pending.done);
}

TEST_CASE("errors: missing file, duplicate name, prompt too long, bad sampling, overload") {
  LocalBackendOptions o = small();
  o.max_queued = 0;
  LocalBackend b(o);
  Status missing = b.load_model_and_wait(LoadParams{"/nonexistent/model.gguf", "gone", 0});
  CHECK(missing.code() == ErrorCode::kNotFound);
  auto models = b.list_models();
  REQUIRE(models->size() == 1);
  CHECK(models->front().state == ModelState::kFailed);
  CHECK(models->front().error.find("/nonexistent/model.gguf") != std::string::npos);

  REQUIRE(b.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 64}).ok());
  CHECK(b.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 64}).code() == ErrorCode::kInvalidArgument);

  Collector c;
  auto p = params(b, "x", 4);
  p.prompt.assign(64, 5);
  CHECK(b.submit(p, c.callback()).status().message().find("context") != std::string::npos);
  p = params(b, "x", 4);
  p.sampling.top_p = 0;
  CHECK(b.submit(p, c.callback()).status().code() == ErrorCode::kInvalidArgument);
  p = params(b, "x", 4);
  p.prompt = {1, 99999};
  CHECK(b.submit(p, c.callback()).status().code() == ErrorCode::kInvalidArgument);
  CHECK(b.submit(params(b, "x", 4), c.callback()).status().code() == ErrorCode::kOverloaded);
  CHECK(b.submit(GenerationParams{}, c.callback()).status().code() == ErrorCode::kNotFound);
  CHECK(b.prompt_info("gone").status().code() == ErrorCode::kDisconnected);
  CHECK(b.prompt_info("tiny")->chat_template.empty());
  CHECK(b.prompt_info("tiny")->bos_text == "<s>");
}

}  // namespace
}  // namespace llmos::http
