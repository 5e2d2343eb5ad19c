// The batch scheduler on its own, with no model and no driver: a step's token
// budget, preemption when blocks run out, prefix reuse, cancellation in every
// state, and the swap-or-recompute decision. The test plays the Engine: it
// reports every swap as done (or failed) and samples token 7 everywhere.
#include "llmos/engine/batch_scheduler.hpp"

#include <doctest/doctest.h>

#include <map>
#include <numeric>

namespace llmos::engine {
namespace {

std::vector<int32_t> tokens_from(int n, int from) {
  std::vector<int32_t> t(size_t(n), 0);
  std::iota(t.begin(), t.end(), from);
  return t;
}

SchedulerOptions options(int n_blocks, int budget, int max_seqs, bool swap_space) {
  SchedulerOptions o;
  o.max_seqs = max_seqs;
  o.ctx_len = 16;
  o.block_size = 4;
  o.n_blocks = n_blocks;
  o.max_batch_tokens = budget;
  o.swap_space = swap_space;
  return o;
}

// What one step planned, read after the Engine's reports.
struct Step {
  std::vector<std::pair<uint64_t, int>> chunks;  // id, tokens
  std::vector<uint64_t> logits;                  // ids that sampled
  std::vector<std::pair<uint64_t, int>> swap_outs, swap_ins;
  std::vector<uint64_t> preempted;
  std::vector<StepPlan::Ended> ended;
  std::vector<uint64_t> dropped_swaps;
};

// Plays the Engine's part: runs a step, finishing a sequence once it has
// generated max_tokens[id] (4 when unset).
struct FakeEngine {
  explicit FakeEngine(BatchScheduler& s) : sched(s) {}
  BatchScheduler& sched;
  bool swaps_ok = true;
  std::map<uint64_t, int> max_tokens;

  void add(uint64_t id, std::vector<int32_t> prompt) { sched.add(id, uint32_t(id), prompt, {}, false); }
  Step step() {
    const StepPlan& p = sched.schedule();
    Step out;
    for (const auto& op : p.swap_outs) {
      out.swap_outs.emplace_back(op.seq->id(), op.n_tokens);
      CHECK(int(p.blocks(op).size()) == (op.n_tokens + 3) / 4);
      sched.swapped_out(op, swaps_ok);
    }
    for (const auto& op : p.swap_ins) {
      out.swap_ins.emplace_back(op.seq->id(), op.n_tokens);
      sched.swapped_in(op, swaps_ok);
    }
    out.ended = p.ended;
    out.preempted = p.preempted;
    out.dropped_swaps = p.dropped_swaps;
    CHECK(p.n_tokens <= sched.options().max_batch_tokens);
    for (const auto& c : p.chunks) out.chunks.emplace_back(c.seq->id(), c.n_tokens);
    if (p.n_tokens > 0) {
      sched.computed();
      for (const auto& c : p.chunks) {
        if (!c.wants_logits) continue;
        out.logits.push_back(c.seq->id());
        sched.append(*c.seq, 7);
        auto it = max_tokens.find(c.seq->id());
        if (c.seq->n_generated() >= (it == max_tokens.end() ? 4 : it->second)) sched.finish(*c.seq);
      }
    }
    sched.end_step();
    return out;
  }
  SequenceState state(uint64_t id) const {
    const Sequence* s = sched.find(id);
    REQUIRE(s != nullptr);
    return s->state();
  }
};

using Chunks = std::vector<std::pair<uint64_t, int>>;

TEST_CASE("decoding sequences take one token each and prompt chunks get the rest of the budget") {
  BatchScheduler sched(options(32, 8, 4, false));
  FakeEngine eng{sched};
  eng.max_tokens = {{1, 10}, {2, 10}, {3, 10}};
  eng.add(1, tokens_from(3, 100));
  eng.add(2, tokens_from(3, 200));
  CHECK(eng.step().chunks == Chunks{{1, 3}, {2, 3}});
  CHECK(eng.state(1) == SequenceState::kDecoding);
  eng.add(3, tokens_from(14, 300));
  CHECK(eng.state(3) == SequenceState::kWaiting);
  Step s = eng.step();
  CHECK(s.chunks == Chunks{{1, 1}, {2, 1}, {3, 6}});
  CHECK(s.logits == std::vector<uint64_t>{1, 2});  // a chunk short of its prompt's end samples nothing
  CHECK(eng.state(3) == SequenceState::kPrefilling);
  CHECK(eng.step().chunks == Chunks{{1, 1}, {2, 1}, {3, 6}});
  s = eng.step();
  CHECK(s.chunks == Chunks{{1, 1}, {2, 1}, {3, 2}});
  CHECK(s.logits == std::vector<uint64_t>{1, 2, 3});
  CHECK(eng.state(3) == SequenceState::kDecoding);
}

TEST_CASE("no more than max_seqs run; the others wait in order") {
  BatchScheduler sched(options(32, 64, 2, false));
  FakeEngine eng{sched};
  eng.max_tokens = {{1, 1}};
  for (uint64_t id = 1; id <= 3; ++id) eng.add(id, tokens_from(3, int(100 * id)));
  CHECK(eng.step().chunks == Chunks{{1, 3}, {2, 3}});
  CHECK(eng.state(3) == SequenceState::kWaiting);
  CHECK(eng.step().chunks == Chunks{{2, 1}, {3, 3}});  // 1 finished after its first token
}

// Four sequences of 3-token prompts on 4 blocks of 4 tokens: the 5th token of
// the first two needs blocks the last two hold.
struct Crowded {
  BatchScheduler sched;
  FakeEngine eng{sched};
  explicit Crowded(bool swap_space) : sched(options(4, 64, 4, swap_space)) {
    for (uint64_t id = 1; id <= 4; ++id) eng.add(id, tokens_from(3, int(100 * id)));
    CHECK(eng.step().chunks == Chunks{{1, 3}, {2, 3}, {3, 3}, {4, 3}});
    CHECK(eng.step().chunks == Chunks{{1, 1}, {2, 1}, {3, 1}, {4, 1}});
  }
};

TEST_CASE("when blocks run out, the most recently admitted sequences are preempted, newest first") {
  Crowded c(false);
  Step s = c.eng.step();
  CHECK(s.chunks == Chunks{{1, 1}, {2, 1}});
  CHECK(s.preempted == std::vector<uint64_t>{4, 3});
  CHECK(s.swap_outs.empty());  // no swap space: their KV is dropped
  CHECK(c.sched.counters()[EngineCounter::kPreemptions] == 2);
  CHECK(c.eng.state(3) == SequenceState::kDropped);
  CHECK(c.eng.state(4) == SequenceState::kDropped);
  CHECK(c.sched.n_running() == 2);
  CHECK(c.sched.n_waiting() == 2);
  // 1 and 2 finish (4 tokens); 3 comes back before 4 and both recompute
  // their 5 tokens (the KV of 4 was dropped for each).
  CHECK(c.eng.step().chunks == Chunks{{1, 1}, {2, 1}});
  s = c.eng.step();
  CHECK(s.chunks == Chunks{{3, 5}, {4, 5}});
  CHECK(s.logits == std::vector<uint64_t>{3, 4});
  CHECK(c.sched.counters()[EngineCounter::kTokensRecomputed] == 8);
}

TEST_CASE("with a swap space, preempted KV is swapped out and comes back before the sequence computes again") {
  Crowded c(true);
  Step s = c.eng.step();
  CHECK(s.chunks == Chunks{{1, 1}, {2, 1}});
  CHECK(s.swap_outs == Chunks{{4, 4}, {3, 4}});  // all their KV: 4 tokens, 1 block each
  CHECK(c.eng.state(3) == SequenceState::kSwapped);
  CHECK(c.sched.counters()[EngineCounter::kSwapsOut] == 2);
  c.eng.step();  // 1 and 2 finish
  s = c.eng.step();
  CHECK(s.swap_ins == Chunks{{3, 4}, {4, 4}});
  CHECK(s.chunks.empty());  // they compute once their KV is back
  s = c.eng.step();
  CHECK(s.chunks == Chunks{{3, 1}, {4, 1}});  // only the token whose KV was never computed
  const EngineCounters& n = c.sched.counters();
  CHECK(n[EngineCounter::kSwapsIn] == 2);
  CHECK(n[EngineCounter::kTokensSwappedIn] == 8);
  CHECK(n[EngineCounter::kTokensRecomputed] == 0);
  CHECK(n[EngineCounter::kSwapFallbacks] == 0);
}

TEST_CASE("a swap-out the swap space refuses turns into recomputation") {
  Crowded c(true);
  c.eng.swaps_ok = false;
  CHECK(c.eng.step().swap_outs.size() == 2);
  CHECK(c.eng.state(3) == SequenceState::kDropped);
  CHECK(c.sched.counters()[EngineCounter::kSwapFallbacks] == 2);
  c.eng.step();
  Step s = c.eng.step();
  CHECK(s.swap_ins.empty());
  CHECK(s.chunks == Chunks{{3, 5}, {4, 5}});
  CHECK(c.sched.counters()[EngineCounter::kTokensRecomputed] == 8);
}

TEST_CASE("a second sequence with a cached prompt prefix shares its blocks and computes the rest") {
  BatchScheduler sched(options(16, 64, 4, false));
  FakeEngine eng{sched};
  eng.max_tokens = {{1, 1}, {2, 2}, {3, 2}};
  eng.add(1, tokens_from(10, 1));
  CHECK(eng.step().chunks == Chunks{{1, 10}});  // finished: blocks of tokens 0-7 stay cached
  CHECK(sched.n_prefix_cached() == 2);
  CHECK(sched.pool().n_only_cached() == 2);
  auto prompt = tokens_from(9, 1);
  prompt.insert(prompt.end(), {50, 51, 52});
  eng.add(2, prompt);
  eng.add(3, prompt);
  CHECK(eng.step().chunks == Chunks{{2, 4}, {3, 4}});  // tokens 8-11 only
  const Sequence* two = sched.find(2);
  const Sequence* three = sched.find(3);
  REQUIRE(two != nullptr);
  REQUIRE(three != nullptr);
  CHECK(two->blocks().blocks()[0] == three->blocks().blocks()[0]);
  CHECK(two->blocks().blocks()[1] == three->blocks().blocks()[1]);
  CHECK(sched.pool().refs(two->blocks().blocks()[0]) == 3);  // the cache and both sequences
  CHECK(two->blocks().blocks()[2] != three->blocks().blocks()[2]);
  CHECK(sched.counters()[EngineCounter::kPrefixHits] == 2);
  CHECK(sched.counters()[EngineCounter::kPrefixTokens] == 16);
  CHECK(sched.pool().n_used() == 4);
}

TEST_CASE("cancel ends a waiting, prefilling or decoding sequence at the next step and frees its blocks") {
  BatchScheduler sched(options(32, 8, 2, false));
  FakeEngine eng{sched};
  eng.max_tokens = {{1, 10}, {2, 10}};
  eng.add(1, tokens_from(3, 100));
  eng.add(2, tokens_from(14, 200));
  eng.add(3, tokens_from(3, 300));
  CHECK(eng.step().chunks == Chunks{{1, 3}, {2, 5}});
  CHECK(eng.state(1) == SequenceState::kDecoding);
  CHECK(eng.state(2) == SequenceState::kPrefilling);
  CHECK(eng.state(3) == SequenceState::kWaiting);
  for (uint64_t id : {2, 1, 3, 99}) sched.cancel(id);
  CHECK(sched.has_work());
  Step s = eng.step();
  REQUIRE(s.ended.size() == 3);
  CHECK(s.ended[0].id == 2);
  CHECK(s.ended[1].id == 1);
  CHECK(s.ended[2].id == 3);
  for (const auto& e : s.ended) CHECK_FALSE(e.taken_off);
  CHECK(s.chunks.empty());
  CHECK(s.dropped_swaps.empty());
  CHECK_FALSE(sched.has_work());
  CHECK(sched.pool().n_used() == sched.pool().n_only_cached());
}

TEST_CASE("cancel of a preempted sequence drops its swapped-out KV; of a finished one does nothing") {
  for (bool swap : {true, false}) {
    CAPTURE(swap);
    Crowded c(swap);
    c.eng.step();  // 3 and 4 preempted
    c.sched.cancel(3);
    c.sched.cancel(4);
    Step s = c.eng.step();
    REQUIRE(s.ended.size() == 2);
    CHECK(s.dropped_swaps == (swap ? std::vector<uint64_t>{3, 4} : std::vector<uint64_t>{}));
    CHECK(c.sched.find(3) == nullptr);
    // 1 and 2 finished in that step: a cancel now finds nothing.
    c.sched.cancel(1);
    s = c.eng.step();
    CHECK(s.ended.empty());
    CHECK_FALSE(c.sched.has_work());
  }
}

TEST_CASE("a sequence taken off is parked with its KV swapped out and resumes from it") {
  BatchScheduler sched(options(32, 64, 4, true));
  FakeEngine eng{sched};
  eng.max_tokens = {{1, 10}, {2, 10}};
  eng.add(1, tokens_from(6, 100));
  eng.add(2, tokens_from(6, 200));
  eng.step();
  eng.step();  // 8 tokens each, KV of 7
  sched.take_off(2);
  Step s = eng.step();
  REQUIRE(s.ended.size() == 1);
  CHECK(s.ended[0].taken_off);
  CHECK(s.ended[0].kv_kept == 7);
  CHECK(s.swap_outs == Chunks{{2, 7}});
  CHECK(eng.state(2) == SequenceState::kParked);
  CHECK(sched.n_running() == 1);
  // The request comes back with its generated tokens: its KV is swapped in.
  std::vector<int32_t> generated = {7, 7};
  CHECK_FALSE(sched.add(2, 2, tokens_from(6, 200), generated, /*resume_swapped=*/true));
  CHECK(eng.state(2) == SequenceState::kSwapped);
  s = eng.step();
  CHECK(s.swap_ins == Chunks{{2, 7}});
  CHECK(eng.step().chunks == Chunks{{1, 1}, {2, 1}});
  CHECK(sched.counters()[EngineCounter::kTokensRecomputed] == 0);

  // Taken off again, cancelled while parked: no event, its swap is dropped.
  sched.take_off(2);
  eng.step();
  sched.cancel(2);
  s = eng.step();
  CHECK(s.ended.empty());
  CHECK(s.dropped_swaps == std::vector<uint64_t>{2});
  CHECK(sched.find(2) == nullptr);

  // Back without resume_swapped: what the swap space holds is stale.
  sched.take_off(1);
  eng.step();
  CHECK(sched.add(1, 1, tokens_from(6, 100), std::vector<int32_t>{7, 7, 7, 7}, false));
  CHECK(eng.state(1) == SequenceState::kWaiting);
}

// The journal as a map, as the model service's arena sequence table holds it.
class MapJournal final : public KvJournal {
 public:
  void commit(uint64_t id, std::span<const int32_t> tokens, std::span<const int32_t> blocks) override {
    table[id] = RetainedKv{id, {tokens.begin(), tokens.end()}, {blocks.begin(), blocks.end()}};
  }
  void forget(uint64_t id) override { table.erase(id); }
  std::map<uint64_t, RetainedKv> table;
};

TEST_CASE("a resumed request adopts the KV a previous engine left and computes only the rest") {
  BatchScheduler sched(options(8, 64, 4, false));
  auto journal = std::make_unique<MapJournal>();
  MapJournal& table = *journal;
  sched.set_journal(std::move(journal));
  FakeEngine eng(sched);
  const auto prompt = tokens_from(10, 1);
  std::vector<RetainedKv> left = {
      {1, prompt, {2, 5, 6}},
      {2, tokens_from(5, 1), {5, 7}},  // block 5 again, not as the same full block: refused
      {3, tokens_from(4, 50), {0}},
  };
  CHECK(sched.retain(left) == std::vector<uint64_t>{1, 3});
  CHECK(sched.n_retained() == 2);
  CHECK(sched.pool().n_used() == 4);
  // Request 1 comes back with two tokens generated after those 10.
  sched.add(1, 1, prompt, std::vector<int32_t>{7, 7}, false);
  CHECK(eng.state(1) == SequenceState::kPrefilling);
  CHECK(sched.find(1)->n_cached() == 10);
  CHECK(sched.find(1)->blocks().blocks()[1] == 5);
  CHECK(sched.counters()[EngineCounter::kSequencesAdopted] == 1);
  CHECK(sched.counters()[EngineCounter::kTokensAdopted] == 10);
  CHECK(sched.counters()[EngineCounter::kTokensRecomputed] == 1);  // token 11, generated before but without KV here
  CHECK(eng.step().chunks == Chunks{{1, 2}});
  CHECK(table.table.at(1).tokens.size() == 12);
  // Unclaimed KV gives its blocks back.
  sched.release_retained();
  CHECK(sched.n_retained() == 0);
  CHECK(table.table.count(3) == 0);
  CHECK(sched.pool().n_used() == 3);
}

}  // namespace
}  // namespace llmos::engine
