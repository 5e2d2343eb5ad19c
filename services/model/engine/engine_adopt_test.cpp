// An engine that replaces a dead one over the same KV memory adopts the KV its
// journal left: resumed requests compute only what is missing, and end with
// the tokens of an undisturbed run even when the journal is stale or wrong.
#include <doctest/doctest.h>

#include <cstring>

#include "engine_test_util.hpp"

namespace llmos::engine {
namespace {

// The journal as a map shared by the dead engine and its replacement (in a
// model service: the arena's sequence table).
using Table = std::map<uint64_t, RetainedKv>;
class MapJournal final : public KvJournal {
 public:
  explicit MapJournal(Table& table) : table_(table) {}
  void commit(uint64_t id, std::span<const int32_t> tokens, std::span<const int32_t> blocks) override {
    table_[id] = RetainedKv{id, {tokens.begin(), tokens.end()}, {blocks.begin(), blocks.end()}};
  }
  void forget(uint64_t id) override { table_.erase(id); }

 private:
  Table& table_;
};

std::vector<RetainedKv> entries(const Table& t) {
  std::vector<RetainedKv> out;
  for (const auto& [id, e] : t) out.push_back(e);
  return out;
}

struct Shared {
  KvGeometry layout;
  std::vector<std::byte> memory;  // the KV "arena"
  Table table;
};

std::unique_ptr<Engine> engine_over(Model& model, Shared& shared, int kv_tokens) {
  const auto& c = model.config();
  shared.layout = KvGeometry{c.n_layers, kv_tokens / 16, 16, c.n_kv_heads, c.head_dim, DType::kF16};
  if (shared.memory.empty()) shared.memory.resize(shared.layout.bytes());
  EngineOptions o;
  o.max_seqs = 8;
  o.ctx_len = kCtx;
  o.kv_tokens = kv_tokens;
  auto eng = Engine::create(model, o, KvCache::borrow(shared.layout, shared.memory.data()));
  REQUIRE_MESSAGE(eng.ok(), eng.status().to_string());
  (*eng)->set_journal(std::make_unique<MapJournal>(shared.table));
  return std::move(eng).value();
}

// Runs `reqs` on `eng` for `steps` steps (all of them when < 0); the tokens
// each request emitted.
std::map<uint64_t, std::vector<int32_t>> steps(Engine& eng, const std::vector<GenerationRequest>& reqs, int n) {
  for (const auto& r : reqs) REQUIRE(eng.submit(r).ok());
  std::map<uint64_t, std::vector<int32_t>> out;
  std::vector<TokenEvent> events;
  for (int i = 0; (n < 0 || i < n) && eng.has_work(); ++i) {
    REQUIRE(i < 5000);
    events.clear();
    eng.step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) out[ev.request_id].push_back(ev.token);
    }
  }
  return out;
}

TEST_CASE("a replacement engine adopts the KV its predecessor committed and continues identically") {
  auto model = tiny_model();
  const auto reqs = requests(3);
  const Run undisturbed = run(*model, 4 * kCtx, nullptr, reqs);

  Shared shared;
  std::map<uint64_t, std::vector<int32_t>> before;
  {
    auto dead = engine_over(*model, shared, 4 * kCtx);
    before = steps(*dead, reqs, 25);  // the prompts, and some tokens each
  }  // killed: what it committed stays in the memory and the journal
  REQUIRE(shared.table.size() == 3);

  // Corrupt what request 2 left past its first block (its KV and the token
  // that claims it): it may adopt only the first 16 tokens.
  RetainedKv& two = shared.table.at(2);
  REQUIRE(two.blocks.size() >= 2);
  auto view = KvCache::borrow(shared.layout, shared.memory.data());
  view->write_block(two.blocks[1], std::vector<std::byte>(view->block_bytes(), std::byte{0x3c}));
  two.tokens[16] ^= 1;

  auto replacement = engine_over(*model, shared, 4 * kCtx);
  CHECK(replacement->retain(entries(shared.table)) == std::vector<uint64_t>{1, 2, 3});
  CHECK(replacement->stats().retained == 3);
  // The kernel re-dispatches with the tokens it heard of: for request 3, two
  // fewer than were generated.
  std::vector<GenerationRequest> resumed = reqs;
  for (auto& r : resumed) {
    r.generated = before[r.id];
    if (r.id == 3) r.generated.resize(r.generated.size() - 2);
  }
  auto after = steps(*replacement, resumed, -1);
  for (const auto& r : resumed) {
    std::vector<int32_t> all = r.generated;
    all.insert(all.end(), after[r.id].begin(), after[r.id].end());
    CHECK_MESSAGE(all == undisturbed.tokens.at(r.id), "request " << r.id);
  }
  const EngineStats s = replacement->stats();
  CHECK(s.counters[EngineCounter::kSequencesAdopted] == 3);
  CHECK(s.counters[EngineCounter::kTokensRecomputed] == uint64_t(int(reqs[1].prompt.size() + resumed[1].generated.size()) - 1 - 16));
  CHECK(s.counters[EngineCounter::kTokensAdopted] > 0);
  CHECK(s.retained == 0);
  CHECK(s.kv_blocks_used == 0);
  CHECK(shared.table.empty());
  MESSAGE("adopted " << s.counters[EngineCounter::kTokensAdopted] << " tokens, recomputed " << s.counters[EngineCounter::kTokensRecomputed]);
}

TEST_CASE("retained KV that is inconsistent is refused; unclaimed KV gives its blocks back") {
  auto model = tiny_model();
  Shared shared;
  auto eng = engine_over(*model, shared, kCtx);  // 8 blocks
  std::vector<RetainedKv> left = {
      {1, std::vector<int32_t>(20, 5), {0, 1}},   // fine
      {2, std::vector<int32_t>(20, 5), {1, 2}},   // block 1 claimed twice
      {3, std::vector<int32_t>(20, 5), {3}},      // too few blocks
      {4, std::vector<int32_t>(10, 5), {9}},      // no such block
      {5, std::vector<int32_t>(30, 5), {4, 5}},   // fine
  };
  for (const auto& e : left) shared.table[e.request_id] = e;
  CHECK(eng->retain(left) == std::vector<uint64_t>{1, 5});
  CHECK(eng->stats().kv_blocks_used == 4);
  CHECK(shared.table.size() == 2);  // the refused ones are forgotten
  eng->release_retained();
  CHECK(eng->stats().kv_blocks_used == 0);
  CHECK(shared.table.empty());

  // Unclaimed KV makes room when blocks run short: a request that needs the
  // whole cache still runs.
  CHECK(eng->retain({{1, std::vector<int32_t>(20, 5), {0, 1}}}).size() == 1);
  GenerationRequest big = requests(1)[0];
  big.id = 9;
  big.prompt.assign(100, 7);
  big.max_tokens = 27;
  auto out = steps(*eng, {big}, -1);
  CHECK(out[9].size() == 27);
  CHECK(eng->stats().retained == 0);
}

}  // namespace
}  // namespace llmos::engine
