// Helpers shared by the CPU driver tests: drivers at every ISA level this
// machine runs, and seeded random data (drivers/testing, shared with CUDA).
// Test-only; not thread-safe.
#pragma once
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "cpu_driver.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/driver/testing/random_data.hpp"

namespace llmos::cpu::testing {

// Every kernel level the CPU supports, lowest first.
inline std::vector<IsaLevel> available_levels() {
  std::vector<IsaLevel> out;
  for (int l = 0; l <= int(detect_isa_level()); ++l) out.push_back(IsaLevel(l));
  return out;
}

inline std::unique_ptr<driver::Driver> driver_at(IsaLevel level, int threads = 2) {
  driver::DriverOptions o;
  o.threads = threads;
  auto d = make_cpu_driver_at(o, level);
  REQUIRE(d.ok());
  return std::move(d).value();
}

using driver::testing::random_floats;

}  // namespace llmos::cpu::testing
