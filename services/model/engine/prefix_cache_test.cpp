// The prefix cache: block bookkeeping (match, insert, eviction) and the engine
// with it: a sequence that shares a cached prefix computes only the rest and
// generates exactly the tokens of an engine without the cache; cached blocks
// make room when blocks run short.
#include "llmos/engine/prefix_cache.hpp"

#include <doctest/doctest.h>

#include <numeric>

#include "engine_test_util.hpp"

namespace llmos::engine {
namespace {

std::vector<int32_t> iota_tokens(int n, int from = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), from);
  return t;
}

TEST_CASE("blocks are shared by reference and freed with their last reference") {
  KvBlockPool pool(2);
  auto b = pool.allocate();
  REQUIRE(b);
  pool.share(*b);
  CHECK(pool.refs(*b) == 2);
  pool.release(*b);
  CHECK(pool.n_free() == 1);
  pool.release(*b);
  CHECK(pool.n_free() == 2);
  CHECK_FALSE(pool.take(5));
}

TEST_CASE("the prefix cache finds whole blocks of a prefix, checks every token, and evicts the least recent") {
  KvBlockPool pool(8);
  PrefixCache cache(4);
  BlockTable a(4);
  const auto tokens = iota_tokens(11);  // 2 full blocks and a partial one
  REQUIRE(a.reserve(pool, 11));
  cache.insert(tokens, a.blocks(), pool);
  CHECK(cache.size() == 2);  // the partial block is not kept
  a.release_all(pool);
  CHECK(pool.n_used() == 2);
  CHECK(pool.n_only_cached() == 2);

  // The same first 8 tokens, then others: both blocks; a limit of 7 tokens: one.
  auto longer = iota_tokens(20);
  auto got = cache.match(longer, 19, pool);
  REQUIRE(got.size() == 2);
  CHECK(pool.refs(got[0]) == 2);
  CHECK(pool.n_only_cached() == 0);  // a sequence holds both now
  CHECK(cache.match(longer, 7, pool).size() == 1);
  pool.release(got[0]);  // the second match's reference
  // One token different in the second block: only the first block.
  auto other = iota_tokens(12);
  other[5] = 999;
  auto one = cache.match(other, 12, pool);
  CHECK(one.size() == 1);
  // Different from the start: nothing.
  CHECK(cache.match(iota_tokens(12, 50), 12, pool).empty());

  // Held by a sequence, a block is not evicted; only-cached ones go.
  for (int32_t blk : got) pool.release(blk);
  pool.release(one[0]);
  CHECK(cache.evict(pool));
  CHECK(cache.evict(pool));
  CHECK_FALSE(cache.evict(pool));
  CHECK(pool.n_used() == 0);
  CHECK(pool.n_only_cached() == 0);
}

TEST_CASE("eviction takes the least recently used prefix first, its deepest block first") {
  KvBlockPool pool(8);
  PrefixCache cache(2);
  BlockTable a(2), b(2);
  const auto ta = iota_tokens(4, 1), tb = iota_tokens(4, 100);
  REQUIRE(a.reserve(pool, 4));
  REQUIRE(b.reserve(pool, 4));
  cache.insert(ta, a.blocks(), pool);
  cache.insert(tb, b.blocks(), pool);
  const std::vector<int32_t> a_blocks(a.blocks().begin(), a.blocks().end());
  a.release_all(pool);
  b.release_all(pool);
  for (int32_t blk : cache.match(ta, 4, pool)) pool.release(blk);  // a is now the more recent
  REQUIRE(cache.evict(pool));
  REQUIRE(cache.evict(pool));
  // b went first; a is still whole.
  CHECK(cache.match(tb, 4, pool).empty());
  auto still = cache.match(ta, 4, pool);
  CHECK(still == a_blocks);
  for (int32_t blk : still) pool.release(blk);
  REQUIRE(cache.evict(pool));  // a's second block before its first
  auto first = cache.match(ta, 4, pool);
  CHECK(first == std::vector<int32_t>{a_blocks[0]});
  for (int32_t blk : first) pool.release(blk);
}

// Runs `reqs` one after another (each to its end) on one engine.
std::vector<std::vector<int32_t>> one_by_one(Engine& eng, const std::vector<GenerationRequest>& reqs) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& r : reqs) {
    REQUIRE(eng.submit(r).ok());
    std::vector<int32_t> got;
    std::vector<TokenEvent> events;
    for (int steps = 0; eng.has_work(); ++steps) {
      REQUIRE(steps < 5000);
      events.clear();
      eng.step(events);
      for (const auto& ev : events) {
        if (ev.token >= 0) got.push_back(ev.token);
      }
    }
    out.push_back(std::move(got));
  }
  return out;
}

std::unique_ptr<Engine> make_engine(Model& model, bool prefix_cache, int kv_tokens = 4 * kCtx) {
  EngineOptions o;
  o.max_seqs = 4;
  o.ctx_len = kCtx;
  o.kv_tokens = kv_tokens;
  o.prefix_cache = prefix_cache;
  auto eng = Engine::create(model, o);
  REQUIRE_MESSAGE(eng.ok(), eng.status().to_string());
  return std::move(eng).value();
}

TEST_CASE("a conversation that goes on reuses the KV of its earlier turns and generates the same tokens") {
  auto model = tiny_model();
  // Turn 1, then turn 2 = turn 1's prompt and answer and more, then turn 3,
  // as a chat client sends them.
  GenerationRequest t1 = requests(1)[0];
  t1.max_tokens = 12;
  auto plain = make_engine(*model, false);
  auto cached = make_engine(*model, true);
  std::vector<GenerationRequest> turns = {t1};
  const auto first = one_by_one(*plain, {t1})[0];
  GenerationRequest t2 = t1;
  t2.id = 2;
  t2.prompt.insert(t2.prompt.end(), first.begin(), first.end());
  for (int i = 0; i < 9; ++i) t2.prompt.push_back(400 + i);
  const auto second = one_by_one(*plain, {t2})[0];
  GenerationRequest t3 = t2;
  t3.id = 3;
  t3.prompt.insert(t3.prompt.end(), second.begin(), second.end());
  t3.prompt.push_back(42);
  const auto third = one_by_one(*plain, {t3})[0];
  CHECK(plain->stats().counters[EngineCounter::kPrefixHits] == 0);

  const auto got = one_by_one(*cached, {t1, t2, t3});
  CHECK(got[0] == first);
  CHECK(got[1] == second);
  CHECK(got[2] == third);
  const EngineStats s = cached->stats();
  CHECK(s.counters[EngineCounter::kPrefixHits] == 2);
  // Turn 2 finds turn 1's full blocks: its prompt and all but the last answer token.
  const int bs = kDefaultBlockSize;
  const uint64_t from_t1 = uint64_t((int(t1.prompt.size()) + t1.max_tokens - 1) / bs * bs);
  const uint64_t from_t2 = uint64_t((int(t2.prompt.size()) + t2.max_tokens - 1) / bs * bs);
  CHECK(s.counters[EngineCounter::kPrefixTokens] == from_t1 + from_t2);
  CHECK(s.kv_blocks_used == 0);  // nothing runs; what stays is only cached
  CHECK(s.prefix_cached_blocks > 0);
  MESSAGE("reused " << s.counters[EngineCounter::kPrefixTokens] << " prompt tokens of " << t2.prompt.size() + t3.prompt.size());
}

TEST_CASE("several sequences share one cached prefix at once; cached blocks make room under pressure") {
  auto model = tiny_model();
  const auto base = requests(1)[0].prompt;  // 20 tokens: one full block
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 4; ++i) {
    GenerationRequest r = requests(1)[0];
    r.id = uint64_t(10 + i);
    r.prompt = base;
    r.prompt.push_back(300 + i);
    r.max_tokens = 20;
    reqs.push_back(r);
  }
  auto plain = make_engine(*model, false);
  std::vector<std::vector<int32_t>> want;
  for (const auto& r : reqs) want.push_back(one_by_one(*plain, {r})[0]);

  // Warm the cache with the shared prompt, then run all four at once on a
  // KV of one context (8 blocks): they share the first block, and the
  // cache's other blocks are evicted as they grow.
  auto cached = make_engine(*model, true, kCtx);
  GenerationRequest warm = reqs[0];
  warm.id = 1;
  warm.max_tokens = 40;
  one_by_one(*cached, {warm});
  for (const auto& r : reqs) REQUIRE(cached->submit(r).ok());
  std::map<uint64_t, std::vector<int32_t>> got;
  std::vector<TokenEvent> events;
  for (int steps = 0; cached->has_work(); ++steps) {
    REQUIRE(steps < 5000);
    events.clear();
    cached->step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) got[ev.request_id].push_back(ev.token);
    }
  }
  for (size_t i = 0; i < reqs.size(); ++i) CHECK(got[reqs[i].id] == want[i]);
  const EngineStats s = cached->stats();
  CHECK(s.counters[EngineCounter::kPrefixHits] >= 4);
  CHECK(s.kv_blocks_used == 0);
}

}  // namespace
}  // namespace llmos::engine
