#include "llmos/driver/device.hpp"

#include <doctest/doctest.h>

namespace llmos::driver {
namespace {

TEST_CASE("device names parse, and a bad one is named in the error") {
  CHECK(*parse_device("cpu") == DeviceKind::kCpu);
  CHECK(*parse_device("cuda") == DeviceKind::kCuda);
  CHECK(*parse_device("auto") == DeviceKind::kAuto);
  auto bad = parse_device("tpu");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("'tpu'") != std::string::npos);
}

TEST_CASE("auto always yields a working driver; cuda says why when it cannot") {
  DriverOptions o;
  o.threads = 1;
  auto a = make_driver(DeviceKind::kAuto, o);
  REQUIRE(a.ok());
  auto c = make_driver(DeviceKind::kCuda, o);
  if (c.ok()) {
    CHECK((*c)->info().name == "cuda");
    CHECK((*a)->info().name == "cuda");
  } else {
    CHECK(c.status().code() == ErrorCode::kUnimplemented);
    CHECK(c.status().message().find("CUDA") != std::string::npos);
    CHECK((*a)->info().name == "cpu");
  }
}

}  // namespace
}  // namespace llmos::driver
