#include "llmos/kernel/scheduler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace llmos::kernel {
namespace {

using namespace std::chrono_literals;

GenerationRequest req(uint64_t id, std::string model, Priority p = Priority::kInteractive,
                      size_t prompt_len = 4) {
  GenerationRequest r;
  r.id = id;
  r.model = std::move(model);
  r.prompt.assign(prompt_len, 7);
  r.priority = p;
  r.sampling.temperature = 0;
  return r;
}

std::vector<uint64_t> ids_of(const std::vector<TrackedRequest>& rs) {
  std::vector<uint64_t> out;
  for (const auto& r : rs) out.push_back(r.request.id);
  return out;
}

TEST_CASE("admission refuses unknown models, full queues, long prompts and bad sampling") {
  SchedulerConfig cfg;
  cfg.max_queued_per_model = 2;
  Scheduler s(cfg);
  TimePoint t{};
  REQUIRE(s.add_model("m", {64, 1}).ok());

  Status st = s.submit(req(1, "nope"), t);
  CHECK(st.code() == ErrorCode::kNotFound);
  CHECK(st.message() == "no model named 'nope' is loaded");

  st = s.submit(req(2, "m", Priority::kInteractive, 64), t);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "a prompt of 64 tokens does not fit the context of 64 tokens of model 'm'");
  CHECK(s.submit(req(3, "m", Priority::kInteractive, 0), t).code() == ErrorCode::kInvalidArgument);
  CHECK(s.submit(req(0, "m"), t).code() == ErrorCode::kInvalidArgument);

  auto bad = req(4, "m");
  bad.sampling.top_p = 1.5f;
  st = s.submit(bad, t);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "top_p must be in (0, 1], got 1.5");
  bad.sampling = {};
  bad.sampling.temperature = -1;
  CHECK(s.submit(bad, t).message() == "temperature must be >= 0, got -1");
  bad.sampling = {};
  bad.max_tokens = 0;
  CHECK(s.submit(bad, t).code() == ErrorCode::kInvalidArgument);

  REQUIRE(s.submit(req(10, "m", Priority::kInteractive, 63), t).ok());
  CHECK(s.submit(req(10, "m"), t).message() == "request 10 is already admitted");
  REQUIRE(s.submit(req(11, "m"), t).ok());
  st = s.submit(req(12, "m"), t);
  CHECK(st.code() == ErrorCode::kOverloaded);
  CHECK(st.message() == "model 'm' has 2 requests queued, its limit; retry later");
  // Running requests do not count against the queue.
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{10});
  CHECK(s.submit(req(12, "m"), t).ok());
  CHECK(s.counters().admitted == 3);
  CHECK(s.counters().rejected == 9);

  REQUIRE(s.close_model("m").ok());
  st = s.submit(req(13, "m"), t);
  CHECK(st.code() == ErrorCode::kNotFound);
  CHECK(st.message() == "model 'm' is being unloaded and admits no new requests");
  CHECK(s.schedule(t).empty());  // cap 1, still running 10
  REQUIRE(s.finish(10).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{11});  // a closed model drains
}

TEST_CASE("interactive requests start before batch ones, within the per-model cap") {
  Scheduler s;
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 2}).ok());
  REQUIRE(s.submit(req(1, "m", Priority::kBatch), t).ok());
  REQUIRE(s.submit(req(2, "m", Priority::kBatch), t).ok());
  REQUIRE(s.submit(req(3, "m", Priority::kInteractive), t).ok());
  REQUIRE(s.submit(req(4, "m", Priority::kInteractive), t).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{3, 4});
  CHECK(s.schedule(t).empty());
  CHECK(s.load("m")->running == 2);
  CHECK(s.load("m")->queued == 2);
  REQUIRE(s.finish(3).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{1});
}

TEST_CASE("batch requests age: a long wait puts them ahead of interactive work") {
  SchedulerConfig cfg;
  cfg.batch_max_wait = 5s;
  Scheduler s(cfg);
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 1}).ok());
  REQUIRE(s.submit(req(1, "m", Priority::kBatch), t).ok());
  uint64_t next_id = 100;
  std::vector<uint64_t> started;
  // A steady stream of interactive requests, one finishing every second.
  for (int second = 0; second < 8; ++second) {
    TimePoint now = t + std::chrono::seconds(second);
    REQUIRE(s.submit(req(next_id++, "m"), now).ok());
    for (const auto& r : s.schedule(now)) started.push_back(r.request.id);
    REQUIRE(s.finish(started.back()).ok());
  }
  auto batch_at = std::find(started.begin(), started.end(), uint64_t{1}) - started.begin();
  CHECK(batch_at == 5);  // after 5 s of waiting, not before and not never
}

TEST_CASE("fair share: models with work split the global cap, then take turns") {
  SchedulerConfig cfg;
  cfg.max_running_total = 4;
  Scheduler s(cfg);
  TimePoint t{};
  REQUIRE(s.add_model("a", {128, 8}).ok());
  REQUIRE(s.add_model("b", {128, 8}).ok());
  for (uint64_t i = 0; i < 6; ++i) REQUIRE(s.submit(req(100 + i, "a"), t).ok());
  for (uint64_t i = 0; i < 6; ++i) REQUIRE(s.submit(req(200 + i, "b"), t).ok());
  auto first = s.schedule(t);
  CHECK(first.size() == 4);
  CHECK(s.load("a")->running == 2);
  CHECK(s.load("b")->running == 2);
  CHECK(s.total_running() == 4);

  // Freeing one slot of each in turn hands it to the model now running fewer.
  REQUIRE(s.finish(100).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{102});
  REQUIRE(s.finish(200).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{202});

  // With a single slot the two models alternate.
  Scheduler one(SchedulerConfig{256, 16, 1, 5s});
  REQUIRE(one.add_model("a", {128}).ok());
  REQUIRE(one.add_model("b", {128}).ok());
  for (uint64_t i = 0; i < 3; ++i) REQUIRE(one.submit(req(10 + i, "a"), t).ok());
  for (uint64_t i = 0; i < 3; ++i) REQUIRE(one.submit(req(20 + i, "b"), t).ok());
  std::vector<uint64_t> order;
  for (int i = 0; i < 6; ++i) {
    auto r = one.schedule(t);
    REQUIRE(r.size() == 1);
    order.push_back(r[0].request.id);
    REQUIRE(one.finish(order.back()).ok());
  }
  CHECK(order == std::vector<uint64_t>{10, 20, 11, 21, 12, 22});
}

TEST_CASE("the preemption victim is the lowest priority, most recently admitted sequence") {
  Scheduler s;
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 8}).ok());
  REQUIRE(s.submit(req(1, "m", Priority::kInteractive), t).ok());
  REQUIRE(s.submit(req(2, "m", Priority::kBatch), t).ok());
  REQUIRE(s.submit(req(3, "m", Priority::kBatch), t).ok());
  REQUIRE(s.submit(req(4, "m", Priority::kInteractive), t).ok());
  CHECK(s.schedule(t).size() == 4);
  CHECK(s.choose_preemption_victim("m") == 3u);
  CHECK(s.choose_preemption_victim("m", 3u) == 2u);
  REQUIRE(s.record_tokens(3, 0, std::vector<uint32_t>{5, 6}).ok());
  REQUIRE(s.begin_preempt(3).ok());
  CHECK(s.choose_preemption_victim("m") == 2u);  // 3 is leaving already
  REQUIRE(*s.requeue_preempted(3, /*swapped_out=*/true, t) == Scheduler::PreemptedOutcome::kRequeued);
  CHECK(s.choose_preemption_victim("m") == 2u);
  REQUIRE(s.finish(2).ok());
  CHECK(s.choose_preemption_victim("m") == 4u);
  CHECK_FALSE(s.choose_preemption_victim("other").has_value());

  auto resumed = s.schedule(t);
  REQUIRE(resumed.size() == 1);
  CHECK(resumed[0].request.id == 3);
  CHECK(resumed[0].swapped_out);
  CHECK(resumed[0].state == RequestState::kRunning);
  CHECK(resumed[0].generated == std::vector<uint32_t>{5, 6});
  CHECK(resumed[0].dispatches == 2);
  CHECK(s.counters().preemptions == 1);
}

TEST_CASE("an interactive request waiting at the cap takes the place of the latest batch request") {
  SchedulerConfig cfg;
  cfg.batch_max_wait = 5s;
  Scheduler s(cfg);
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 2}).ok());
  REQUIRE(s.submit(req(1, "m", Priority::kBatch), t).ok());
  REQUIRE(s.submit(req(2, "m", Priority::kBatch), t).ok());
  CHECK(s.schedule(t).size() == 2);
  CHECK_FALSE(s.choose_priority_preemption("m", t).has_value());  // nothing waits
  REQUIRE(s.submit(req(3, "m", Priority::kBatch), t).ok());
  CHECK_FALSE(s.choose_priority_preemption("m", t).has_value());  // batch waits for batch
  REQUIRE(s.submit(req(4, "m", Priority::kInteractive), t).ok());
  REQUIRE(s.submit(req(5, "m", Priority::kInteractive), t).ok());
  // Two interactive requests wait: the two batch ones go, latest first.
  auto v = s.choose_priority_preemption("m", t);
  REQUIRE(v.has_value());
  CHECK(*v == 2u);
  REQUIRE(s.begin_preempt(*v).ok());
  v = s.choose_priority_preemption("m", t);
  REQUIRE(v.has_value());
  CHECK(*v == 1u);
  REQUIRE(s.begin_preempt(*v).ok());
  CHECK_FALSE(s.choose_priority_preemption("m", t).has_value());  // room for both is coming
  REQUIRE(s.requeue_preempted(2, true, t).ok());
  REQUIRE(s.requeue_preempted(1, true, t).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{4, 5});
  // Interactive work is never taken off for interactive work.
  REQUIRE(s.submit(req(6, "m", Priority::kInteractive), t).ok());
  CHECK_FALSE(s.choose_priority_preemption("m", t).has_value());
  REQUIRE(s.finish(4).ok());
  REQUIRE(s.finish(5).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{6, 1});  // batch 1 was preempted first: it leads
  // A batch request that has waited past batch_max_wait goes next: no preemption then.
  REQUIRE(s.submit(req(7, "m", Priority::kInteractive), t).ok());
  CHECK(s.choose_priority_preemption("m", t) == 1u);
  CHECK_FALSE(s.choose_priority_preemption("m", t + 6s).has_value());
}

TEST_CASE("after a model service crash its requests are re-dispatched first, with their tokens") {
  Scheduler s;
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 2}).ok());
  for (uint64_t id = 1; id <= 4; ++id) REQUIRE(s.submit(req(id, "m"), t).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{1, 2});
  REQUIRE(s.record_tokens(1, 0, std::vector<uint32_t>{10, 11}).ok());
  REQUIRE(s.record_tokens(1, 2, std::vector<uint32_t>{12}).ok());
  REQUIRE(s.record_tokens(1, 1, std::vector<uint32_t>{11, 12, 13}).ok());  // overlap: only 13 is new
  CHECK(s.record_tokens(1, 9, std::vector<uint32_t>{1}).code() == ErrorCode::kInvalidArgument);
  CHECK(s.record_tokens(77, 0, std::vector<uint32_t>{1}).code() == ErrorCode::kNotFound);

  auto crash = s.requeue_after_crash("m", t);
  CHECK(crash.requeued == std::vector<uint64_t>{1, 2});
  CHECK(crash.cancelled.empty());
  CHECK(s.total_running() == 0);
  auto again = s.schedule(t);
  CHECK(ids_of(again) == std::vector<uint64_t>{1, 2});
  CHECK(again[0].generated == std::vector<uint32_t>{10, 11, 12, 13});
  CHECK(again[0].request.prompt == std::vector<uint32_t>(4, 7));
  CHECK(again[1].generated.empty());
  CHECK(s.counters().redispatches == 2);
}

TEST_CASE("cancel removes a queued request at once and leaves a running one to its service") {
  Scheduler s;
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 1}).ok());
  REQUIRE(s.submit(req(1, "m"), t).ok());
  REQUIRE(s.submit(req(2, "m"), t).ok());
  REQUIRE(s.schedule(t).size() == 1);
  CHECK(*s.cancel(2) == Scheduler::CancelOutcome::kRemovedFromQueue);
  CHECK(s.find(2) == nullptr);
  CHECK(*s.cancel(1) == Scheduler::CancelOutcome::kCancelling);
  CHECK(s.find(1) != nullptr);
  REQUIRE(s.finish(1).ok());
  CHECK(s.cancel(1).status().code() == ErrorCode::kNotFound);
  CHECK(s.total_running() == 0);
}

TEST_CASE("removing a model hands back everything it still held") {
  Scheduler s;
  TimePoint t{};
  REQUIRE(s.add_model("m", {128, 1}).ok());
  REQUIRE(s.add_model("n", {128, 1}).ok());
  REQUIRE(s.submit(req(1, "m"), t).ok());
  REQUIRE(s.submit(req(2, "m"), t).ok());
  REQUIRE(s.submit(req(3, "n"), t).ok());
  REQUIRE(s.schedule(t).size() == 2);
  auto left = s.remove_model("m");
  CHECK(ids_of(left) == std::vector<uint64_t>{1, 2});
  CHECK(s.total_running() == 1);
  CHECK_FALSE(s.load("m").has_value());
  CHECK(s.submit(req(4, "m"), t).code() == ErrorCode::kNotFound);
  CHECK(s.add_model("m", {128}).ok());
  CHECK(s.add_model("m", {128}).code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmos::kernel

namespace llmos::kernel {
namespace {

TEST_CASE("a paused model queues requests and starts them when resumed") {
  Scheduler s;
  TimePoint t{};
  REQUIRE(s.add_model("m", {64, 4}).ok());
  REQUIRE(s.add_model("n", {64, 4}).ok());
  REQUIRE(s.set_paused("m", true).ok());
  CHECK(s.set_paused("zz", true).code() == ErrorCode::kNotFound);
  REQUIRE(s.submit(req(1, "m"), t).ok());
  REQUIRE(s.submit(req(2, "n"), t).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{2});
  CHECK(s.request_ids() == std::vector<uint64_t>{1, 2});
  CHECK(s.request_ids("m") == std::vector<uint64_t>{1});
  REQUIRE(s.set_paused("m", false).ok());
  CHECK(ids_of(s.schedule(t)) == std::vector<uint64_t>{1});
}

}  // namespace
}  // namespace llmos::kernel
