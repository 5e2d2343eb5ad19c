// The engine under KV pressure: preemption with and without a swap space, on a
// seeded synthetic model (the tokens of a run are compared between runs, not
// against a reference implementation; golden checks are in tests/).
#include "llmos/engine/engine.hpp"

#include <doctest/doctest.h>

#include "engine_test_util.hpp"

namespace llmos::engine {
namespace {

// Refuses to keep anything, as a full or unreachable memory service does.
class RefusingSwapSpace final : public KvSwapSpace {
 public:
  Status save(uint64_t id, std::span<const int32_t>, KvCache&, std::span<const int32_t>) override {
    return overloaded("request " + std::to_string(id) + ": full");
  }
  Status load(uint64_t id, std::span<const int32_t>, KvCache&, std::span<const int32_t>) override {
    return not_found("request " + std::to_string(id));
  }
  void drop(uint64_t) override {}
};

// Keeps everything but loses it on the way back (a load that times out after
// scribbling over the blocks).
class ForgetfulSwapSpace final : public KvSwapSpace {
 public:
  Status save(uint64_t, std::span<const int32_t>, KvCache&, std::span<const int32_t>) override {
    return ok_status();
  }
  Status load(uint64_t id, std::span<const int32_t>, KvCache& kv, std::span<const int32_t> blocks) override {
    std::vector<std::byte> junk(kv.block_bytes(), std::byte{0x7b});
    for (int32_t b : blocks) kv.write_block(b, junk);
    return disconnected("request " + std::to_string(id) + ": no answer in time");
  }
  void drop(uint64_t) override { ++drops; }
  int drops = 0;
};

TEST_CASE("under KV pressure, swapped-out sequences resume with the tokens of an unpreempted run") {
  auto model = tiny_model();
  const auto reqs = requests(6);
  const Run roomy = run(*model, 8 * kCtx, nullptr, reqs);
  CHECK(roomy.stats.counters[EngineCounter::kPreemptions] == 0);
  REQUIRE(roomy.tokens.size() == 6);

  const Run recompute = run(*model, 0, nullptr, reqs);
  auto host = std::make_unique<HostKvSwapSpace>(64u << 20);
  HostKvSwapSpace* swap = host.get();
  const Run swapped = run(*model, 0, std::move(host), reqs);

  CHECK(recompute.stats.counters[EngineCounter::kPreemptions] > 0);
  CHECK(recompute.tokens == roomy.tokens);
  CHECK(swapped.stats.counters[EngineCounter::kPreemptions] > 0);
  CHECK(swapped.stats.counters[EngineCounter::kSwapsOut] > 0);
  CHECK(swapped.stats.counters[EngineCounter::kSwapsIn] == swapped.stats.counters[EngineCounter::kSwapsOut]);
  CHECK(swapped.stats.counters[EngineCounter::kSwapFallbacks] == 0);
  CHECK(swapped.tokens == roomy.tokens);
  CHECK(swapped.stats.counters[EngineCounter::kTokensRecomputed] < recompute.stats.counters[EngineCounter::kTokensRecomputed]);
  CHECK(swap->entries() == 0);  // every swap was taken back
  MESSAGE("preemptions " << recompute.stats.counters[EngineCounter::kPreemptions] << " / " << swapped.stats.counters[EngineCounter::kPreemptions]
                         << "; tokens recomputed without swap " << recompute.stats.counters[EngineCounter::kTokensRecomputed]
                         << ", with swap " << swapped.stats.counters[EngineCounter::kTokensRecomputed] << " ("
                         << swapped.stats.counters[EngineCounter::kTokensSwappedIn] << " swapped in)");
}

TEST_CASE("a swap space that refuses or loses the KV costs recomputation, never other tokens") {
  auto model = tiny_model();
  const auto reqs = requests(6);
  const Run roomy = run(*model, 8 * kCtx, nullptr, reqs);

  const Run refused = run(*model, 0, std::make_unique<RefusingSwapSpace>(), reqs);
  CHECK(refused.stats.counters[EngineCounter::kPreemptions] > 0);
  CHECK(refused.stats.counters[EngineCounter::kSwapsOut] == 0);
  CHECK(refused.stats.counters[EngineCounter::kSwapFallbacks] == refused.stats.counters[EngineCounter::kPreemptions]);
  CHECK(refused.tokens == roomy.tokens);

  auto forgetful = std::make_unique<ForgetfulSwapSpace>();
  ForgetfulSwapSpace* f = forgetful.get();
  const Run lost = run(*model, 0, std::move(forgetful), reqs);
  CHECK(lost.stats.counters[EngineCounter::kSwapsOut] > 0);
  CHECK(lost.stats.counters[EngineCounter::kSwapsIn] == 0);
  CHECK(lost.stats.counters[EngineCounter::kSwapFallbacks] == lost.stats.counters[EngineCounter::kSwapsOut]);
  CHECK(f->drops >= int(lost.stats.counters[EngineCounter::kSwapFallbacks]));
  CHECK(lost.tokens == roomy.tokens);
}

TEST_CASE("a cancelled sequence that waits swapped out gives its swap back") {
  auto model = tiny_model();
  EngineOptions o;
  o.max_seqs = 8;
  o.ctx_len = kCtx;
  auto eng = Engine::create(*model, o);
  REQUIRE(eng.ok());
  auto host = std::make_unique<HostKvSwapSpace>(64u << 20);
  HostKvSwapSpace* swap = host.get();
  (*eng)->set_swap_space(std::move(host));
  for (const auto& r : requests(6)) REQUIRE((*eng)->submit(r).ok());
  std::vector<TokenEvent> events;
  while (swap->entries() == 0) {
    REQUIRE((*eng)->has_work());
    (*eng)->step(events);
  }
  for (uint64_t id = 1; id <= 6; ++id) (*eng)->cancel(id);
  events.clear();
  (*eng)->step(events);
  CHECK(events.size() == 6);
  CHECK_FALSE((*eng)->has_work());
  CHECK(swap->entries() == 0);
  CHECK(swap->used_bytes() == 0);
}

TEST_CASE("a request preempted on the kernel's word resumes from the swap space with the tokens of an undisturbed run") {
  auto model = tiny_model();
  const auto reqs = requests(3);
  const Run roomy = run(*model, 8 * kCtx, nullptr, reqs);

  EngineOptions o;
  o.max_seqs = 8;
  o.ctx_len = kCtx;
  o.kv_tokens = 8 * kCtx;
  o.prefix_cache = false;  // the KV must come back from the swap space, not the cache
  auto created = Engine::create(*model, o);
  REQUIRE(created.ok());
  Engine& eng = **created;
  auto host = std::make_unique<HostKvSwapSpace>(64u << 20);
  HostKvSwapSpace* swap = host.get();
  eng.set_swap_space(std::move(host));
  for (const auto& r : reqs) REQUIRE(eng.submit(r).ok());
  std::map<uint64_t, std::vector<int32_t>> got;
  std::vector<TokenEvent> events;
  auto step = [&] {
    events.clear();
    eng.step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) got[ev.request_id].push_back(ev.token);
    }
  };
  for (int i = 0; i < 10; ++i) step();
  eng.preempt(2);
  eng.preempt(3);
  step();
  int kept2 = -1;
  for (const auto& ev : events) {
    if (ev.request_id == 2) {
      CHECK(ev.done);
      CHECK(ev.reason == FinishReason::kPreempted);
      kept2 = ev.kv_kept;
    }
  }
  CHECK(kept2 == int(reqs[1].prompt.size() + got[2].size()) - 1);  // all but the last token's KV
  CHECK(swap->entries() == 2);
  for (int i = 0; i < 5; ++i) step();  // request 1 goes on alone
  // Request 3 is cancelled while off the engine: its swap goes.
  eng.cancel(3);
  step();
  CHECK(swap->entries() == 1);
  // Request 2 comes back with what it generated.
  GenerationRequest back = reqs[1];
  back.generated = got[2];
  back.resume_swapped = true;
  REQUIRE(eng.submit(back).ok());
  for (int steps = 0; eng.has_work(); ++steps) {
    REQUIRE(steps < 5000);
    step();
  }
  CHECK(got[1] == roomy.tokens.at(1));
  CHECK(got[2] == roomy.tokens.at(2));
  const EngineStats s = eng.stats();
  CHECK(s.counters[EngineCounter::kSwapsIn] == 1);
  CHECK(s.counters[EngineCounter::kTokensRecomputed] == 0);
  CHECK(swap->entries() == 0);
  CHECK(s.kv_blocks_used == 0);
}

}  // namespace
}  // namespace llmos::engine
