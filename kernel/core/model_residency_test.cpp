#include "llmos/kernel/model_residency.hpp"

#include <doctest/doctest.h>

using namespace llmos;
using namespace llmos::kernel;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {
constexpr uint64_t kMiB = 1024 * 1024;
}

TEST_CASE("keep_alive takes seconds or Go durations; negative is forever") {
  CHECK(parse_keep_alive("300")->idle == seconds(300));
  CHECK(parse_keep_alive("5m")->idle == minutes(5));
  CHECK(parse_keep_alive("1h30m")->idle == minutes(90));
  CHECK(parse_keep_alive("1.5s")->idle == std::chrono::milliseconds(1500));
  CHECK(parse_keep_alive("0")->idle == Duration::zero());
  CHECK_FALSE(parse_keep_alive("-1")->idle.has_value());
  CHECK_FALSE(parse_keep_alive("-5m")->idle.has_value());
  for (const char* bad : {"", "-", "5x", "m", "5m3", "1e3", "abc", "5 m"}) {
    CAPTURE(bad);
    auto r = parse_keep_alive(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(std::string("keep_alive '") + bad + "'") == 0);
  }
}

TEST_CASE("an idle model unloads when its keep-alive runs out; a busy one never") {
  ManualClock clock;
  ModelResidency r;
  r.add("a", 10 * kMiB, KeepAlive::after(minutes(5)), clock.now());
  CHECK_FALSE(r.find("a")->unload_at().has_value());  // loading
  r.mark_loaded("a", clock.now());
  CHECK(r.next_deadline() == clock.now() + minutes(5));
  REQUIRE(r.begin_request("a", clock.now()).ok());
  clock.advance(minutes(10));
  CHECK(r.expired(clock.now()).empty());  // a request is in flight
  CHECK_FALSE(r.next_deadline().has_value());
  REQUIRE(r.end_request("a", clock.now()).ok());
  clock.advance(minutes(4));
  CHECK(r.expired(clock.now()).empty());
  clock.advance(minutes(1));
  CHECK(r.expired(clock.now()) == std::vector<std::string>{"a"});

  // keep_alive 0 unloads as soon as the model is idle; -1 never.
  REQUIRE(r.set_keep_alive("a", KeepAlive::after(Duration::zero())).ok());
  CHECK(r.find("a")->unload_at() == r.find("a")->last_use);
  REQUIRE(r.set_keep_alive("a", KeepAlive::forever()).ok());
  clock.advance(std::chrono::hours(1000));
  CHECK(r.expired(clock.now()).empty());
  CHECK(r.begin_request("b", clock.now()).code() == ErrorCode::kNotFound);
  CHECK(r.end_request("a", clock.now()).code() == ErrorCode::kInternal);
}

TEST_CASE("eviction picks idle models, least recently used first, then the larger") {
  ManualClock clock;
  ModelResidency r;
  const auto load = [&](const char* name, uint64_t mib) {
    r.add(name, mib * kMiB, KeepAlive::after(minutes(5)), clock.now());
    r.mark_loaded(name, clock.now());
  };
  load("old", 10);
  load("old-big", 30);  // same last use as "old": the larger goes first
  clock.advance(seconds(1));
  load("new", 20);
  clock.advance(seconds(1));

  auto none = r.plan_eviction("x", 5 * kMiB, 5 * kMiB, 100 * kMiB, 0);
  REQUIRE(none.ok());
  CHECK(none->evict.empty());
  auto one = r.plan_eviction("x", 30 * kMiB, 5 * kMiB, 100 * kMiB, 0);
  REQUIRE(one.ok());
  CHECK(one->evict == std::vector<std::string>{"old-big"});
  auto two = r.plan_eviction("x", 40 * kMiB, 5 * kMiB, 100 * kMiB, 0);
  REQUIRE(two.ok());
  CHECK(two->evict == std::vector<std::string>{"old-big", "old"});
  // --max-loaded 3: one must go even though the memory fits.
  auto by_count = r.plan_eviction("x", 1 * kMiB, 50 * kMiB, 100 * kMiB, 3);
  REQUIRE(by_count.ok());
  CHECK(by_count->evict == std::vector<std::string>{"old-big"});
  // Using a model makes it the most recently used.
  REQUIRE(r.begin_request("old-big", clock.now()).ok());
  REQUIRE(r.end_request("old-big", clock.now()).ok());
  CHECK(r.plan_eviction("x", 10 * kMiB, 5 * kMiB, 100 * kMiB, 0)->evict == std::vector<std::string>{"old"});
  // A kept-forever model goes after every other idle one.
  REQUIRE(r.set_keep_alive("old", KeepAlive::forever()).ok());
  CHECK(r.plan_eviction("x", 10 * kMiB, 5 * kMiB, 100 * kMiB, 0)->evict == std::vector<std::string>{"new"});
}

TEST_CASE("a model with requests in flight, or loading, is never evicted; the refusal names them") {
  ManualClock clock;
  ModelResidency r;
  r.add("busy", 40 * kMiB, KeepAlive::after(minutes(5)), clock.now());
  r.mark_loaded("busy", clock.now());
  REQUIRE(r.begin_request("busy", clock.now()).ok());
  r.add("coming", 30 * kMiB, KeepAlive::after(minutes(5)), clock.now());
  r.add("idle", 20 * kMiB, KeepAlive::after(minutes(5)), clock.now());
  r.mark_loaded("idle", clock.now());

  auto ok = r.plan_eviction("x", 25 * kMiB, 10 * kMiB, 100 * kMiB, 0);
  REQUIRE(ok.ok());
  CHECK(ok->evict == std::vector<std::string>{"idle"});
  auto refused = r.plan_eviction("x", 50 * kMiB, 10 * kMiB, 100 * kMiB, 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kFailed);
  CHECK(refused.status().message() ==
        "model 'x' needs 50.0 MiB but only 30.0 MiB of the 100.0 MiB budget can be freed; held by "
        "'busy' 40.0 MiB (1 request(s) in flight), 'coming' 30.0 MiB (loading)");
  auto too_big = ModelResidency().plan_eviction("huge", 200 * kMiB, 100 * kMiB, 100 * kMiB, 0);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.status().message().find("held by no model (it is larger than the budget)") != std::string::npos);
  auto count = r.plan_eviction("x", kMiB, 90 * kMiB, 100 * kMiB, 2);
  REQUIRE_FALSE(count.ok());
  CHECK(count.status().message().find("2 models may be loaded (--max-loaded)") != std::string::npos);
  r.remove("busy");
  CHECK(r.find("busy") == nullptr);
  CHECK(r.list().size() == 2);
}

TEST_CASE("the in-flight count mirrored from the scheduler holds a model and restarts its idle time") {
  ManualClock clock;
  ModelResidency r;
  r.add("a", 10 * kMiB, KeepAlive::after(seconds(30)), clock.now());
  r.mark_loaded("a", clock.now());
  REQUIRE(r.set_in_flight("a", 2, clock.now()).ok());
  clock.advance(minutes(1));
  CHECK(r.expired(clock.now()).empty());
  CHECK_FALSE(r.plan_eviction("b", 5 * kMiB, 0, 10 * kMiB, 0).ok());  // busy: not evictable
  REQUIRE(r.set_in_flight("a", 0, clock.now()).ok());
  CHECK(r.find("a")->last_use == clock.now());
  CHECK(r.next_deadline() == clock.now() + seconds(30));
  clock.advance(seconds(31));
  CHECK(r.expired(clock.now()) == std::vector<std::string>{"a"});
  CHECK(r.set_in_flight("nope", 1, clock.now()).code() == ErrorCode::kNotFound);
}

TEST_CASE("a reserved model is neither evicted nor expired until its reservation is used or released") {
  ManualClock clock;
  ModelResidency r;
  r.add("a", 10 * kMiB, KeepAlive::after(seconds(30)), clock.now());
  r.mark_loaded("a", clock.now());
  auto first = r.reserve("a", "io");
  auto second = r.reserve("a", "io");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(*first != *second);
  CHECK(*first != 0);
  CHECK(r.find("a")->reserved == 2);
  CHECK(r.reserve("nope", "io").status().code() == ErrorCode::kNotFound);

  // However long the request takes to come, nothing depends on time.
  clock.advance(std::chrono::hours(24));
  CHECK(r.expired(clock.now()).empty());
  CHECK_FALSE(r.next_deadline().has_value());
  auto refused = r.plan_eviction("b", 5 * kMiB, 0, 10 * kMiB, 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("'a' 10.0 MiB (0 request(s) in flight, 2 about to start)") !=
        std::string::npos);

  // The first request is submitted: the scheduler counts it; its reservation goes.
  REQUIRE(r.set_in_flight("a", 1, clock.now()).ok());
  CHECK(r.release(*first, clock.now()));
  CHECK_FALSE(r.release(*first, clock.now()));  // once only
  REQUIRE(r.set_in_flight("a", 0, clock.now()).ok());
  CHECK(r.expired(clock.now() + minutes(10)).empty());  // the second is still reserved
  CHECK_FALSE(r.plan_eviction("b", 5 * kMiB, 0, 10 * kMiB, 0).ok());

  // Its holder went away: the reservation lapses and the idle time starts then.
  clock.advance(seconds(5));
  CHECK(r.release_holder("someone-else", clock.now()) == 0);
  CHECK(r.release_holder("io", clock.now()) == 1);
  CHECK(r.find("a")->reserved == 0);
  CHECK(r.next_deadline() == clock.now() + seconds(30));
  auto plan = r.plan_eviction("b", 5 * kMiB, 0, 10 * kMiB, 0);
  REQUIRE(plan.ok());
  CHECK(plan->evict == std::vector<std::string>{"a"});

  // A model that goes away takes its reservations with it.
  auto third = r.reserve("a", "io");
  REQUIRE(third.ok());
  r.remove("a");
  CHECK_FALSE(r.release(*third, clock.now()));
}
