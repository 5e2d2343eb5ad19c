// Skipping a doctest case that cannot run here (no ../shared, no python3...):
// skip(why) prints "skipped: why" and marks the running case; run_tests()
// (the mains in this folder) exits 77, which ctest shows as Skipped, when
// every case that ran skipped and none failed. Test-only, one thread.
#pragma once
#include <source_location>
#include <string_view>

namespace llmos::testing {

// Marks the running case skipped and says why; the caller then returns.
void skip(std::string_view why, std::source_location where = std::source_location::current());

// Runs doctest; 77 when every case that ran skipped, else doctest's result.
int run_tests(int argc, char** argv);

}  // namespace llmos::testing
