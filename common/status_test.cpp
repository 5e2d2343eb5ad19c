#include "llmos/common/status.hpp"

#include <doctest/doctest.h>

namespace llmos {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("value " + std::to_string(x) + " is not positive");
  return x;
}

Result<int> doubled(int x) {
  LLMOS_ASSIGN_OR_RETURN(int v, parse_positive(x));
  return v * 2;
}

TEST_CASE("Result carries a value or a classified error") {
  auto good = doubled(21);
  REQUIRE(good.ok());
  CHECK(*good == 42);
  auto bad = doubled(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
  CHECK(bad.status().to_string() == "invalid argument: value -1 is not positive");
}

TEST_CASE("a Result built from an ok Status is an internal error, not a value") {
  Result<int> r{Status()};
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInternal);
}

}  // namespace
}  // namespace llmos
