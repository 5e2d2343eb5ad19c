// Helpers shared by the CPU driver tests: drivers at every ISA level this
// machine runs, seeded random data, and a context string for failures.
// Test-only; not thread-safe.
#pragma once
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu_driver.hpp"
#include "llmos/driver/driver.hpp"

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

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace llmos::cpu::testing
