#include "cpu_features.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "llmos/driver/driver.hpp"

namespace llmos::cpu {
namespace {

TEST_CASE("ISA names parse and print") {
  CHECK(parse_isa_level("scalar") == IsaLevel::kScalar);
  CHECK(parse_isa_level("avx2") == IsaLevel::kAvx2);
  CHECK(parse_isa_level("avx512") == IsaLevel::kAvx512Vnni);
  CHECK(parse_isa_level("avx512-novnni") == IsaLevel::kAvx512);
  CHECK(parse_isa_level("amx") == IsaLevel::kAmx);
  CHECK_FALSE(parse_isa_level("sse9").has_value());
  CHECK(isa_level_name(IsaLevel::kAvx512Vnni) == "avx512-vnni");
  MESSAGE("this machine: " << isa_level_name(detect_isa_level()));
}

TEST_CASE("LLMOS_CPU_ISA caps the level the driver reports") {
  ::setenv("LLMOS_CPU_ISA", "scalar", 1);
  auto d = driver::make_cpu_driver({1});
  REQUIRE(d.ok());
  const auto info = (*d)->info();
  CHECK(info.name == "cpu");
  CHECK(info.details == "1 thread, scalar");

  ::setenv("LLMOS_CPU_ISA", "avx9000", 1);
  auto bad = driver::make_cpu_driver({1});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
  CHECK(bad.status().message().find("LLMOS_CPU_ISA=avx9000") != std::string::npos);

  ::unsetenv("LLMOS_CPU_ISA");
  auto best = driver::make_cpu_driver({2});
  REQUIRE(best.ok());
  CHECK((*best)->info().details == "2 threads, " + std::string(isa_level_name(detect_isa_level())));
}

TEST_CASE("a negative thread count is refused") {
  auto d = driver::make_cpu_driver({-3});
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmos::cpu
