// EngineHost on the synthetic tiny model: the tokens of a hosted engine equal
// those of the engine stepped by hand; cancel, refusal, drain and priority
// order as a user of the host sees them.
#include "llmos/host/engine_host.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "engine_test_util.hpp"

namespace llmos::host {
namespace {

using namespace std::chrono_literals;

// Collects what the engine thread reports; waits for ends.
class Recorder final : public EngineListener {
 public:
  void on_events(std::span<const engine::TokenEvent> events) override {
    std::unique_lock lock(mu_);
    ++steps;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold; });  // a test holds the engine thread here
    for (const auto& ev : events) {
      if (ev.token >= 0) tokens[ev.request_id].push_back(ev.token);
      if (ev.done) {
        reasons[ev.request_id] = ev.reason;
        end_order.push_back(ev.request_id);
      }
    }
    cv_.notify_all();
  }
  void on_refused(uint64_t id, Status status) override {
    std::lock_guard lock(mu_);
    refused[id] = std::move(status);
    cv_.notify_all();
  }
  void on_drained() override {
    std::lock_guard lock(mu_);
    drained = true;
    cv_.notify_all();
  }
  // Waits until `n` requests ended or were refused.
  bool wait_ends(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, [&] { return reasons.size() + refused.size() >= n; });
  }
  // Holds the engine thread in its next on_events until release().
  void hold_next() {
    std::lock_guard lock(mu_);
    hold = true;
  }
  bool wait_held() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, [&] { return steps > 0; });
  }
  void release() {
    std::lock_guard lock(mu_);
    hold = false;
    cv_.notify_all();
  }
  bool wait_drained() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, [&] { return drained; });
  }

  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, FinishReason> reasons;
  std::map<uint64_t, Status> refused;
  std::vector<uint64_t> end_order;
  bool drained = false;
  bool hold = false;
  int steps = 0;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

std::unique_ptr<engine::Engine> make_engine(engine::Model& model, int max_seqs = 8) {
  engine::EngineOptions o;
  o.max_seqs = max_seqs;
  o.ctx_len = engine::kCtx;
  o.kv_tokens = 8 * engine::kCtx;
  auto eng = engine::Engine::create(model, o);
  REQUIRE_MESSAGE(eng.ok(), eng.status().to_string());
  return std::move(eng).value();
}

TEST_CASE("a hosted engine gives the tokens of the engine stepped by hand, and publishes its stats") {
  auto model = engine::tiny_model();
  const auto reqs = engine::requests(4);
  const engine::Run direct = engine::run(*model, 8 * engine::kCtx, nullptr, reqs);

  Recorder rec;
  EngineHost host(make_engine(*model), rec);
  for (const auto& r : reqs) host.submit(r);
  REQUIRE(rec.wait_ends(reqs.size()));
  host.stop();
  CHECK(rec.tokens == direct.tokens);
  uint64_t total = 0;
  for (const auto& [id, t] : rec.tokens) total += t.size();
  CHECK(host.stats().tokens_generated.load() == total);
  CHECK(host.stats().running.load() == 0);
  CHECK(host.waiting() == 0);
  for (const auto& [id, reason] : rec.reasons) CHECK(reason == FinishReason::kLength);
}

TEST_CASE("cancel ends a request early; a bad request is refused with the engine's error") {
  auto model = engine::tiny_model();
  Recorder rec;
  EngineHost host(make_engine(*model), rec, EngineHostOptions{5});  // slow steps: time to cancel
  auto reqs = engine::requests(2);
  reqs[0].max_tokens = 100;
  host.submit(reqs[0]);
  engine::GenerationRequest empty;
  empty.id = 99;
  host.submit(empty);
  host.cancel(reqs[0].id);
  REQUIRE(rec.wait_ends(2));
  host.stop();
  CHECK(rec.reasons.at(reqs[0].id) == FinishReason::kCancelled);
  CHECK(rec.tokens[reqs[0].id].size() < 100);
  REQUIRE(rec.refused.count(99));
  CHECK(rec.refused.at(99).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("drain runs what was submitted to its end, then reports drained") {
  auto model = engine::tiny_model();
  Recorder rec;
  EngineHost host(make_engine(*model), rec);
  const auto reqs = engine::requests(3);
  for (const auto& r : reqs) host.submit(r);
  host.drain();
  REQUIRE(rec.wait_drained());
  CHECK(rec.reasons.size() == reqs.size());
  for (const auto& r : reqs) CHECK(rec.tokens[r.id].size() == size_t(r.max_tokens));
}

TEST_CASE("interactive submissions that arrive together start before batch ones") {
  auto model = engine::tiny_model();
  Recorder rec;
  auto reqs = engine::requests(3);
  {
    // One sequence at a time; the engine thread is held inside its first
    // step's report while the other three are submitted, so all three reach
    // the engine together.
    rec.hold_next();
    EngineHost host(make_engine(*model, 1), rec);
    engine::GenerationRequest first = reqs[0];
    first.id = 50;
    first.max_tokens = 5;
    host.submit(first);
    REQUIRE(rec.wait_held());
    host.submit(reqs[0], Priority::kBatch);
    host.submit(reqs[1], Priority::kBatch);
    host.submit(reqs[2], Priority::kInteractive);
    rec.release();
    REQUIRE(rec.wait_ends(4));
  }
  REQUIRE(rec.end_order.size() == 4);
  const std::vector<uint64_t> after_first(rec.end_order.begin() + 1, rec.end_order.end());
  CHECK(after_first == std::vector<uint64_t>{reqs[2].id, reqs[0].id, reqs[1].id});
}

}  // namespace
}  // namespace llmos::host
