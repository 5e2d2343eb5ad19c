// EngineStats' cumulative counters as the shared EngineCounters table.
#include "llmos/engine/engine.hpp"

namespace llmos::engine {

EngineCounters EngineStats::counters() const {
  EngineCounters c;
  c[EngineCounter::kPreemptions] = preemptions;
  c[EngineCounter::kSwapsOut] = swaps_out;
  c[EngineCounter::kSwapsIn] = swaps_in;
  c[EngineCounter::kSwapFallbacks] = swap_fallbacks;
  c[EngineCounter::kTokensSwappedIn] = tokens_swapped_in;
  c[EngineCounter::kTokensRecomputed] = tokens_recomputed;
  c[EngineCounter::kSequencesAdopted] = sequences_adopted;
  c[EngineCounter::kTokensAdopted] = tokens_adopted;
  c[EngineCounter::kPrefixHits] = prefix_hits;
  c[EngineCounter::kPrefixTokens] = tokens_from_prefix;
  return c;
}

}  // namespace llmos::engine
