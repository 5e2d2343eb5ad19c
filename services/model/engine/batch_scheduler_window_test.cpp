// The batch scheduler for a model with sliding-window layers: their blocks come
// from their own pool and a sequence gives back those its window has passed,
// while the global layers' table keeps every block; preemption, prefix cache,
// swapping and retained KV stay correct (the last three are off for it).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "llmos/engine/batch_scheduler.hpp"

namespace llmos::engine {
namespace {

constexpr int kBlock = 4;
constexpr int kWindow = 8;

SchedulerOptions window_options(int n_blocks, int n_window_blocks, int max_seqs) {
  SchedulerOptions o;
  o.max_seqs = max_seqs;
  o.ctx_len = 64;
  o.block_size = kBlock;
  o.n_blocks = n_blocks;
  o.max_batch_tokens = 8;
  o.swap_space = true;  // there is one, yet a window's KV is not swapped
  o.window = kWindow;
  o.n_window_blocks = n_window_blocks;
  return o;
}

std::vector<int32_t> prompt_of(int n, int from) {
  std::vector<int32_t> t(size_t(n), 0);
  std::iota(t.begin(), t.end(), from);
  return t;
}

// A sequence's tables agree with its computed positions: every global block
// is held; the window table holds exactly the blocks from the one holding
// position n_cached - window + 1 on, and -1 before it.
void check_tables(const Sequence& s) {
  const auto all = s.blocks().blocks();
  CHECK(int(all.size()) >= (s.n_cached() + kBlock - 1) / kBlock);
  CHECK(std::none_of(all.begin(), all.end(), [](int32_t b) { return b < 0; }));
  const auto win = s.window_blocks().blocks();
  const int first_needed = std::max(0, s.n_cached() + 1 - kWindow) / kBlock;
  for (int i = 0; i < int(win.size()); ++i) {
    CAPTURE(i);
    CHECK((win[size_t(i)] < 0) == (i < first_needed));
  }
}

// Plays the Engine: every sequence generates max_tokens tokens (token 7).
struct WindowRun {
  explicit WindowRun(BatchScheduler& s) : sched(s) {}
  BatchScheduler& sched;
  int max_tokens = 30;
  std::map<uint64_t, int> generated;  // by id, at finish
  std::vector<uint64_t> preempted;
  int peak_pool = 0, peak_window_pool = 0;

  void step() {
    const StepPlan& p = sched.schedule();
    CHECK(p.swap_outs.empty());
    CHECK(p.swap_ins.empty());
    preempted.insert(preempted.end(), p.preempted.begin(), p.preempted.end());
    peak_pool = std::max(peak_pool, sched.pool().n_used());
    peak_window_pool = std::max(peak_window_pool, sched.window_pool().n_used());
    if (p.n_tokens == 0) {
      sched.end_step();
      return;
    }
    sched.computed();
    int held = 0;
    for (const auto& c : p.chunks) {
      check_tables(*c.seq);
      CHECK(c.seq->window_blocks().n_held() <= max_window_blocks(sched.options()));
      held += c.seq->window_blocks().n_held();
    }
    CHECK(held <= sched.window_pool().n_used());
    for (const auto& c : p.chunks) {
      if (!c.wants_logits) continue;
      sched.append(*c.seq, 7);
      if (c.seq->n_generated() >= max_tokens) {
        generated[c.seq->id()] = c.seq->n_generated();
        sched.finish(*c.seq);
      }
    }
    sched.end_step();
  }
  void run() {
    for (int i = 0; i < 1000 && sched.has_work(); ++i) step();
    CHECK_FALSE(sched.has_work());
  }
};

TEST_CASE("a sliding layer's blocks go back to its pool once the sequence has passed its window") {
  BatchScheduler sched(window_options(16, max_window_blocks(window_options(16, 0, 1)), 1));
  WindowRun run(sched);
  sched.add(1, 1, prompt_of(6, 100), {}, false);
  for (int i = 0; i < 12; ++i) run.step();
  const Sequence* s = sched.find(1);
  REQUIRE(s != nullptr);
  CHECK(s->n_cached() > 2 * kWindow);
  CHECK(s->window_blocks().n_held() <= 3);  // (n_cached - 8, n_cached] spans 3 blocks at most
  CHECK(s->blocks().n_held() == (s->n_cached() + kBlock) / kBlock);
  run.run();
  CHECK(run.generated[1] == 30);
  CHECK(sched.pool().n_used() == 0);
  CHECK(sched.window_pool().n_used() == 0);
}

TEST_CASE("sequences much longer than the window run in a window pool far smaller than their contexts") {
  const int per_seq = max_window_blocks(window_options(48, 0, 3));
  BatchScheduler sched(window_options(48, 3 * per_seq, 3));
  WindowRun run(sched);
  run.max_tokens = 40;
  for (uint64_t id = 1; id <= 3; ++id) sched.add(id, uint32_t(id), prompt_of(10, int(id) * 100), {}, false);
  run.run();
  CHECK(run.preempted.empty());
  for (uint64_t id = 1; id <= 3; ++id) CHECK(run.generated[id] == 40);
  CHECK(run.peak_pool > 3 * per_seq);  // the global layers held every position
  CHECK(run.peak_window_pool <= 3 * per_seq);
  CHECK(sched.pool().n_used() == 0);
  CHECK(sched.window_pool().n_used() == 0);
}

TEST_CASE("a window pool of one window per sequence runs long prompts in chunks shortened to its free blocks") {
  CHECK(min_window_blocks(window_options(48, 0, 3)) == 3);  // ceil(8 / 4) + 1
  CHECK(min_window_blocks(window_options(48, 0, 3)) < max_window_blocks(window_options(48, 0, 3)));
  BatchScheduler one(window_options(16, 3, 1));
  WindowRun alone(one);
  one.add(1, 1, prompt_of(30, 100), {}, false);
  alone.run();
  CHECK(alone.generated[1] == 30);
  CHECK(alone.peak_window_pool <= 3);

  BatchScheduler sched(window_options(48, 9, 3));
  WindowRun run(sched);
  run.max_tokens = 20;
  for (uint64_t id = 1; id <= 3; ++id) sched.add(id, uint32_t(id), prompt_of(20, int(id) * 100), {}, false);
  run.run();
  CHECK(run.preempted.empty());  // every decoding sequence always has its window's blocks
  for (uint64_t id = 1; id <= 3; ++id) CHECK(run.generated[id] == 20);
  CHECK(run.peak_window_pool <= 9);
  CHECK(sched.window_pool().n_used() == 0);
}

TEST_CASE("under a window, preemption drops the KV (window blocks too) and the sequence recomputes it") {
  const int per_seq = max_window_blocks(window_options(16, 0, 2));
  BatchScheduler sched(window_options(16, 2 * per_seq, 2));
  CHECK(sched.n_prefix_cached() == 0);
  WindowRun run(sched);
  run.max_tokens = 26;  // two sequences of 36 tokens need 18 blocks of 16
  sched.add(1, 1, prompt_of(10, 100), {}, false);
  sched.add(2, 2, prompt_of(10, 200), {}, false);
  run.run();
  CHECK(run.preempted == std::vector<uint64_t>{2});
  CHECK(run.generated[1] == 26);
  CHECK(run.generated[2] == 26);
  CHECK(sched.counters()[EngineCounter::kTokensRecomputed] > 0);
  CHECK(sched.counters()[EngineCounter::kSwapsOut] == 0);
  CHECK(sched.n_prefix_cached() == 0);  // a finished sequence's window blocks are gone: nothing to cache
  CHECK(sched.pool().n_used() == 0);
  CHECK(sched.window_pool().n_used() == 0);
}

TEST_CASE("under a window, a request taken off is not parked with swapped KV, and retained KV is not adopted") {
  BatchScheduler sched(window_options(16, max_window_blocks(window_options(16, 0, 1)), 1));
  WindowRun run(sched);
  sched.add(1, 1, prompt_of(20, 100), {}, false);
  for (int i = 0; i < 4; ++i) run.step();
  sched.take_off(1);
  run.step();
  CHECK(sched.find(1) == nullptr);  // nothing kept: it comes back to recompute
  CHECK(sched.window_pool().n_used() == 0);
  std::vector<RetainedKv> left(1);
  left[0].request_id = 9;
  left[0].tokens = prompt_of(5, 1);
  left[0].blocks = {0, 1};
  CHECK(sched.retain(std::move(left)).empty());
  CHECK(sched.pool().n_used() == 0);
}

}  // namespace
}  // namespace llmos::engine
