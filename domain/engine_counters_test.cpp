#include "llmos/domain/engine_counters.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace llmos;

TEST_CASE("every engine counter has one distinct snake_case name and a help line") {
  std::set<std::string_view> names;
  size_t i = 0;
  for (const auto& info : engine_counter_table()) {
    CHECK(size_t(info.counter) == i++);
    CHECK(!info.help.empty());
    CHECK(info.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    names.insert(info.name);
  }
  CHECK(names.size() == kEngineCounterCount);
  CHECK(engine_counter_info(EngineCounter::kSwapsOut).name == "kv_swaps_out");
}

TEST_CASE("counters add up, and growth survives a source that restarted from zero") {
  EngineCounters a, b;
  a[EngineCounter::kPrefixHits] = 3;
  b[EngineCounter::kPrefixHits] = 5;
  b[EngineCounter::kSwapsOut] = 1;
  EngineCounters sum = a;
  sum += b;
  CHECK(sum[EngineCounter::kPrefixHits] == 8);
  CHECK(sum[EngineCounter::kSwapsOut] == 1);
  EngineCounters grown = counter_growth(a, b);
  CHECK(grown[EngineCounter::kPrefixHits] == 2);
  EngineCounters restarted = counter_growth(b, a);  // went down: the source restarted
  CHECK(restarted[EngineCounter::kPrefixHits] == 3);
  CHECK(restarted[EngineCounter::kSwapsOut] == 0);
}
