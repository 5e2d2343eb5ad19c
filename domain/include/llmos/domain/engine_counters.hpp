// EngineCounters: the engine's cumulative counters (preemption, KV swap, KV
// adopted after a restart, prefix cache), declared once as a table. The model
// service's heartbeat, the kernel's totals, `llmos stats` and /metrics all walk
// the table, so a new counter is one row here plus the code that counts it.
// A plain value: copy freely; not synchronized.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace llmos {

// Wire order: the heartbeat and Stats messages carry the values as a list in
// this order. Add new counters at the end only.
enum class EngineCounter : uint8_t {
  kPreemptions,       // sequences preempted because KV blocks ran out
  kSwapsOut,          // preempted sequences whose KV went to the swap space
  kSwapsIn,           // resumed sequences that got their KV back
  kSwapFallbacks,     // swap-outs refused and swap-ins failed: recomputed instead
  kTokensSwappedIn,   // tokens whose KV came back from the swap space
  kTokensRecomputed,  // tokens computed again because their KV was dropped
  kSequencesAdopted,  // resumed requests that adopted KV a previous engine left
  kTokensAdopted,     // tokens of that KV
  kPrefixHits,        // admitted sequences that shared KV blocks from the prefix cache
  kPrefixTokens,      // prompt tokens whose KV came from the prefix cache
};
inline constexpr size_t kEngineCounterCount = 10;

struct EngineCounterInfo {
  EngineCounter counter;
  std::string_view name;    // snake_case: `llmos stats --json` key, /metrics llmos_<name>_total
  std::string_view help;    // one line for people (`llmos stats`, /metrics HELP)
};

// Every counter, in wire order.
std::span<const EngineCounterInfo, kEngineCounterCount> engine_counter_table();
const EngineCounterInfo& engine_counter_info(EngineCounter c);

struct EngineCounters {
  std::array<uint64_t, kEngineCounterCount> values{};

  uint64_t& operator[](EngineCounter c) { return values[size_t(c)]; }
  uint64_t operator[](EngineCounter c) const { return values[size_t(c)]; }
  EngineCounters& operator+=(const EngineCounters& o) {
    for (size_t i = 0; i < kEngineCounterCount; ++i) values[i] += o.values[i];
    return *this;
  }
  bool operator==(const EngineCounters&) const = default;
};

// What to add to a running total when a source that restarts from zero (a
// model service after a crash) reports `now` after it last reported `before`:
// the growth of each counter, or `now` itself where it went down (a restart).
EngineCounters counter_growth(const EngineCounters& before, const EngineCounters& now);

}  // namespace llmos
