#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "llmos/kernel/scheduler.hpp"

namespace llmos::kernel {
namespace {

using namespace std::chrono_literals;
using State = RequestState;

GenerationRequest req(uint64_t id, Priority p = Priority::kInteractive, std::string model = "m") {
  GenerationRequest r;
  r.id = id;
  r.model = std::move(model);
  r.prompt.assign(4, 7);
  r.priority = p;
  r.sampling.temperature = 0;
  return r;
}

State state_of(const Scheduler& s, uint64_t id) {
  const TrackedRequest* r = s.find(id);
  REQUIRE(r != nullptr);
  return r->state;
}

std::vector<uint64_t> started(Scheduler& s, TimePoint now) {
  std::vector<uint64_t> ids;
  for (const auto& r : s.schedule(now)) ids.push_back(r.request.id);
  return ids;
}

TEST_CASE("a request's life: queued, running, preempting, preempted, running again, finished") {
  ManualClock clock;
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 1}).ok());
  REQUIRE(s.submit(req(1, Priority::kBatch), clock.now()).ok());
  CHECK(state_of(s, 1) == State::kQueued);
  CHECK(request_state_name(State::kQueued) == "queued");

  CHECK(started(s, clock.now()) == std::vector<uint64_t>{1});
  CHECK(state_of(s, 1) == State::kRunning);
  REQUIRE(s.record_tokens(1, 0, std::vector<uint32_t>{5, 6}).ok());

  REQUIRE(s.begin_preempt(1).ok());
  CHECK(state_of(s, 1) == State::kPreempting);
  CHECK(request_state_name(State::kPreempting) == "preempting");
  CHECK(s.load("m")->running == 1);  // its service still holds it

  clock.advance(1s);
  auto outcome = s.requeue_preempted(1, /*swapped_out=*/true, clock.now());
  REQUIRE(outcome.ok());
  CHECK(*outcome == Scheduler::PreemptedOutcome::kRequeued);
  const TrackedRequest* r = s.find(1);
  CHECK(r->state == State::kPreempted);
  CHECK(r->swapped_out);
  CHECK(r->queued_since == clock.now());
  CHECK(r->prompt_tokens() == 4);
  CHECK(s.load("m")->queued == 1);
  CHECK(s.total_running() == 0);

  auto again = s.schedule(clock.now());
  REQUIRE(again.size() == 1);
  CHECK(again[0].state == State::kRunning);
  CHECK(again[0].generated == std::vector<uint32_t>{5, 6});
  CHECK(again[0].swapped_out);  // the dispatch loads its KV back
  CHECK(again[0].dispatches == 2);

  REQUIRE(s.finish(1).ok());
  CHECK(s.find(1) == nullptr);
  CHECK(s.finish(1).code() == ErrorCode::kNotFound);  // a repeated final event
  CHECK(s.counters().preemptions == 1);
  CHECK(s.counters().finished == 1);
}

TEST_CASE("cancel in every state") {
  ManualClock clock;
  const TimePoint t = clock.now();
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 3}).ok());
  for (uint64_t id = 1; id <= 4; ++id) REQUIRE(s.submit(req(id, Priority::kBatch), t).ok());
  REQUIRE(started(s, t) == (std::vector<uint64_t>{1, 2, 3}));
  REQUIRE(s.begin_preempt(2).ok());
  REQUIRE(s.begin_preempt(3).ok());
  REQUIRE(s.requeue_preempted(3, /*swapped_out=*/true, t).ok());
  // Now 1 running, 2 preempting, 3 preempted (swapped out), 4 queued.

  SUBCASE("queued: removed at once") {
    CHECK(*s.cancel(4) == Scheduler::CancelOutcome::kRemovedFromQueue);
    CHECK(s.find(4) == nullptr);
    CHECK(s.load("m")->queued == 1);
    CHECK(s.counters().cancelled_in_queue == 1);
  }
  SUBCASE("preempted: removed at once (the caller drops its swap)") {
    CHECK(*s.cancel(3) == Scheduler::CancelOutcome::kRemovedFromQueue);
    CHECK(s.find(3) == nullptr);
    CHECK(started(s, t) == std::vector<uint64_t>{4});  // its place in the queue is gone
  }
  SUBCASE("running: cancelling until its service's final event") {
    CHECK(*s.cancel(1) == Scheduler::CancelOutcome::kCancelling);
    CHECK(state_of(s, 1) == State::kCancelling);
    CHECK(s.total_running() == 2);
    // A repeated cancel is refused and changes nothing.
    auto again = s.cancel(1);
    CHECK(again.status().code() == ErrorCode::kInvalidArgument);
    CHECK(again.status().message() == "request 1 is cancelling: it is cancelled already");
    CHECK(state_of(s, 1) == State::kCancelling);
    // Tokens still streamed before the cancel took effect are kept.
    CHECK(s.record_tokens(1, 0, std::vector<uint32_t>{9}).ok());
    REQUIRE(s.finish(1).ok());
    CHECK(s.find(1) == nullptr);
    CHECK(s.total_running() == 1);
  }
  SUBCASE("preempting: the cancel crosses the preemption, which then ends it") {
    CHECK(*s.cancel(2) == Scheduler::CancelOutcome::kCancelling);
    CHECK(state_of(s, 2) == State::kCancelling);
    CHECK(s.begin_preempt(2).code() == ErrorCode::kInvalidArgument);
    auto outcome = s.requeue_preempted(2, /*swapped_out=*/true, t);
    REQUIRE(outcome.ok());
    CHECK(*outcome == Scheduler::PreemptedOutcome::kCancelled);
    CHECK(state_of(s, 2) == State::kCancelling);  // not requeued: the caller ends it
    CHECK(s.load("m")->queued == 2);
    REQUIRE(s.finish(2).ok());
    CHECK(s.counters().preemptions == 1);  // only 3's
  }
  SUBCASE("preempting: its service finishes it before taking it off") {
    CHECK(*s.cancel(2) == Scheduler::CancelOutcome::kCancelling);
    REQUIRE(s.finish(2).ok());
    CHECK(s.requeue_preempted(2, false, t).status().code() == ErrorCode::kNotFound);
  }
  SUBCASE("finished: unknown") {
    REQUIRE(s.finish(1).ok());
    auto gone = s.cancel(1);
    CHECK(gone.status().code() == ErrorCode::kNotFound);
    CHECK(gone.status().message() == "no admitted request 1");
  }
  CHECK(s.counters().rejected == 0);
}

TEST_CASE("a request asked to leave that finishes first is simply gone") {
  ManualClock clock;
  const TimePoint t = clock.now();
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 1}).ok());
  REQUIRE(s.submit(req(1, Priority::kBatch), t).ok());
  REQUIRE(started(s, t) == std::vector<uint64_t>{1});
  REQUIRE(s.submit(req(2, Priority::kInteractive), t).ok());
  auto victim = s.choose_priority_preemption("m", t);
  REQUIRE(victim == 1u);
  REQUIRE(s.begin_preempt(1).ok());
  CHECK_FALSE(s.choose_priority_preemption("m", t).has_value());  // 1 makes room already
  // Its final event arrives before the service saw the preempt.
  REQUIRE(s.finish(1).ok());
  CHECK(s.counters().preemptions == 0);
  CHECK(started(s, t) == std::vector<uint64_t>{2});
  // Had the service also sent `preempted`, it would be refused.
  auto late = s.requeue_preempted(1, true, t);
  CHECK(late.status().code() == ErrorCode::kNotFound);
  CHECK(s.find(2)->state == State::kRunning);
}

TEST_CASE("a cancelling request makes room for a waiting interactive one") {
  ManualClock clock;
  const TimePoint t = clock.now();
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 2}).ok());
  REQUIRE(s.submit(req(1, Priority::kBatch), t).ok());
  REQUIRE(s.submit(req(2, Priority::kBatch), t).ok());
  REQUIRE(started(s, t).size() == 2);
  REQUIRE(s.submit(req(3, Priority::kInteractive), t).ok());
  REQUIRE(*s.cancel(2) == Scheduler::CancelOutcome::kCancelling);
  CHECK_FALSE(s.choose_priority_preemption("m", t).has_value());
  CHECK_FALSE(s.choose_preemption_victim("m", 1u).has_value());  // 2 is leaving already
  REQUIRE(s.submit(req(4, Priority::kInteractive), t).ok());
  CHECK(s.choose_priority_preemption("m", t) == 1u);
}

TEST_CASE("a model service crash requeues what it ran and ends what was being cancelled") {
  ManualClock clock;
  const TimePoint t = clock.now();
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 3}).ok());
  for (uint64_t id = 1; id <= 5; ++id) REQUIRE(s.submit(req(id, Priority::kBatch), t).ok());
  REQUIRE(started(s, t) == (std::vector<uint64_t>{1, 2, 3}));
  REQUIRE(s.begin_preempt(2).ok());  // 2 preempting
  REQUIRE(s.record_tokens(2, 0, std::vector<uint32_t>{8, 9}).ok());
  REQUIRE(*s.cancel(3) == Scheduler::CancelOutcome::kCancelling);
  REQUIRE(s.record_tokens(3, 0, std::vector<uint32_t>{4}).ok());
  REQUIRE(s.begin_preempt(1).ok());
  REQUIRE(s.requeue_preempted(1, /*swapped_out=*/true, t).ok());  // 1 preempted, swapped out
  REQUIRE(started(s, t) == std::vector<uint64_t>{1});
  REQUIRE(s.find(1)->swapped_out);
  // Held by the service: 1 running (resumed), 2 preempting, 3 cancelling. Waiting: 4, 5.

  clock.advance(2s);
  auto crash = s.requeue_after_crash("m", clock.now());
  CHECK(crash.requeued == std::vector<uint64_t>{1, 2});
  REQUIRE(crash.cancelled.size() == 1);
  CHECK(crash.cancelled[0].request.id == 3);
  CHECK(crash.cancelled[0].generated == std::vector<uint32_t>{4});
  CHECK(s.find(3) == nullptr);
  CHECK(s.total_running() == 0);
  CHECK(s.counters().redispatches == 2);
  for (uint64_t id : {1, 2}) {
    const TrackedRequest* r = s.find(id);
    CHECK(r->state == State::kQueued);
    CHECK_FALSE(r->swapped_out);  // its swap is not trusted after a crash
    CHECK(r->queued_since == clock.now());
  }
  CHECK(state_of(s, 4) == State::kQueued);

  // A `preempted` the dead service sent before dying is refused, also after
  // the re-dispatch, and the request keeps its place.
  auto late = s.requeue_preempted(2, true, clock.now());
  CHECK(late.status().code() == ErrorCode::kInvalidArgument);
  CHECK(late.status().message() == "request 2 is queued: its preemption was not asked for");
  auto again = s.schedule(clock.now());
  REQUIRE(again.size() == 3);
  CHECK(again[0].request.id == 1);
  CHECK(again[1].request.id == 2);
  CHECK(again[1].generated == std::vector<uint32_t>{8, 9});
  CHECK(again[2].request.id == 4);
  CHECK(s.requeue_preempted(2, true, clock.now()).status().code() == ErrorCode::kInvalidArgument);
  CHECK(state_of(s, 2) == State::kRunning);
  CHECK(s.counters().preemptions == 1);
}

TEST_CASE("transitions that do not fit the state are refused and change nothing") {
  ManualClock clock;
  const TimePoint t = clock.now();
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 1}).ok());
  REQUIRE(s.submit(req(1), t).ok());
  REQUIRE(s.submit(req(2), t).ok());
  REQUIRE(started(s, t) == std::vector<uint64_t>{1});

  // Queued (never dispatched): no preemption, no tokens.
  Status st = s.begin_preempt(2);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "request 2 is queued: only a running request can be preempted");
  CHECK(s.requeue_preempted(2, false, t).status().code() == ErrorCode::kInvalidArgument);
  st = s.record_tokens(2, 0, std::vector<uint32_t>{1});
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message() == "request 2 is queued: it was never dispatched, so has no tokens");
  CHECK(state_of(s, 2) == State::kQueued);

  // Running: a `preempted` nobody asked for.
  CHECK(s.requeue_preempted(1, false, t).status().message() ==
        "request 1 is running: its preemption was not asked for");
  CHECK(state_of(s, 1) == State::kRunning);

  // Preempting: asked twice.
  REQUIRE(s.begin_preempt(1).ok());
  CHECK(s.begin_preempt(1).message() == "request 1 is preempting: only a running request can be preempted");

  // Preempted: a repeated `preempted`, and no preempt while it waits.
  REQUIRE(s.requeue_preempted(1, false, t).ok());
  CHECK(s.requeue_preempted(1, false, t).status().message() ==
        "request 1 is preempted: its preemption was not asked for");
  CHECK(s.begin_preempt(1).code() == ErrorCode::kInvalidArgument);
  CHECK(state_of(s, 1) == State::kPreempted);
  CHECK(s.load("m")->queued == 2);
  CHECK(s.counters().preemptions == 1);

  // Unknown ids.
  CHECK(s.begin_preempt(99).code() == ErrorCode::kNotFound);
  CHECK(s.requeue_preempted(99, false, t).status().code() == ErrorCode::kNotFound);
  CHECK(s.finish(99).code() == ErrorCode::kNotFound);
  CHECK(s.record_tokens(99, 0, std::vector<uint32_t>{1}).code() == ErrorCode::kNotFound);
  CHECK(s.requeue_after_crash("nope", t).requeued.empty());
}

TEST_CASE("any order of transitions and peer messages keeps the books straight") {
  ManualClock clock;
  Scheduler s;
  REQUIRE(s.add_model("m", {64, 3}).ok());
  std::mt19937 rng(12345);
  uint64_t next_id = 1;
  for (int step = 0; step < 5000; ++step) {
    // Mostly a tracked request; sometimes one finished or never admitted.
    const std::vector<uint64_t> tracked = s.request_ids();
    const uint64_t id = !tracked.empty() && rng() % 4 != 0 ? tracked[rng() % tracked.size()]
                                                           : 1 + rng() % (next_id + 1);
    const TimePoint now = clock.now();
    switch (rng() % 8) {
      case 0: (void)s.submit(req(next_id++, rng() % 2 ? Priority::kBatch : Priority::kInteractive), now); break;
      case 1: (void)s.schedule(now); break;
      case 2: (void)s.begin_preempt(id); break;
      case 3: (void)s.requeue_preempted(id, rng() % 2, now); break;
      case 4: (void)s.cancel(id); break;
      case 5: (void)s.finish(id); break;
      case 6: if (rng() % 8 == 0) (void)s.requeue_after_crash("m", now); break;
      case 7: (void)s.record_tokens(id, 0, std::vector<uint32_t>{1, 2}); break;
    }
    clock.advance(10ms);
    uint32_t held = 0, waiting = 0;
    for (uint64_t i : s.request_ids()) (held_by_service(s.find(i)->state) ? held : waiting) += 1;
    REQUIRE(s.total_running() == held);
    REQUIRE(s.load("m")->running == held);
    REQUIRE(s.load("m")->queued == waiting);
    REQUIRE(held <= 3);
  }
  CHECK(s.counters().preemptions > 0);
  CHECK(s.counters().redispatches > 0);
  CHECK(s.counters().cancelled_in_queue > 0);
  CHECK(s.counters().finished > 0);
}

TEST_CASE("every state has a name") {
  CHECK(request_state_name(State::kQueued) == "queued");
  CHECK(request_state_name(State::kRunning) == "running");
  CHECK(request_state_name(State::kPreempting) == "preempting");
  CHECK(request_state_name(State::kPreempted) == "preempted");
  CHECK(request_state_name(State::kCancelling) == "cancelling");
  CHECK_FALSE(held_by_service(State::kQueued));
  CHECK_FALSE(held_by_service(State::kPreempted));
  CHECK(held_by_service(State::kCancelling));
}

}  // namespace
}  // namespace llmos::kernel
