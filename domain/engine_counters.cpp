#include "llmos/domain/engine_counters.hpp"

namespace llmos {
namespace {

constexpr std::array<EngineCounterInfo, kEngineCounterCount> kTable{{
    {EngineCounter::kPreemptions, "engine_preemptions", "sequences an engine preempted because KV blocks ran out"},
    {EngineCounter::kSwapsOut, "kv_swaps_out", "preempted sequences whose KV went to llmos-memory"},
    {EngineCounter::kSwapsIn, "kv_swaps_in", "resumed sequences that got their KV back"},
    {EngineCounter::kSwapFallbacks, "kv_swap_fallbacks", "KV swaps refused or failed: recomputed instead"},
    {EngineCounter::kTokensSwappedIn, "tokens_swapped_in", "tokens whose KV came back from llmos-memory"},
    {EngineCounter::kTokensRecomputed, "tokens_recomputed", "tokens computed again because their KV was dropped"},
    {EngineCounter::kSequencesAdopted, "sequences_adopted", "resumed requests that adopted KV a crashed service left"},
    {EngineCounter::kTokensAdopted, "tokens_adopted", "tokens of KV a crashed service left, reused"},
    {EngineCounter::kPrefixHits, "prefix_cache_hits", "requests that reused the cached KV of their prompt's prefix"},
    {EngineCounter::kPrefixTokens, "prefix_cache_tokens", "prompt tokens whose KV came from the prefix cache"},
}};

constexpr bool table_in_order() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (size_t(kTable[i].counter) != i) return false;
  }
  return true;
}
static_assert(table_in_order(), "engine counter table rows must follow the enum order");

}  // namespace

std::span<const EngineCounterInfo, kEngineCounterCount> engine_counter_table() { return kTable; }

const EngineCounterInfo& engine_counter_info(EngineCounter c) { return kTable[size_t(c)]; }

EngineCounters counter_growth(const EngineCounters& before, const EngineCounters& now) {
  EngineCounters d;
  for (size_t i = 0; i < kEngineCounterCount; ++i) {
    d.values[i] = now.values[i] >= before.values[i] ? now.values[i] - before.values[i] : now.values[i];
  }
  return d;
}

}  // namespace llmos
