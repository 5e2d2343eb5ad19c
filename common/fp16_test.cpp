#include "llmos/common/fp16.hpp"

#include <doctest/doctest.h>

#include <cmath>

namespace llmos {
namespace {

TEST_CASE("every finite f16 survives a round trip through f32") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1f) == 0x1f) continue;  // inf / nan
    float f = f16_to_f32(uint16_t(h));
    CHECK_MESSAGE(f32_to_f16(f) == h, "bits " << h);
  }
}

TEST_CASE("f16 conversions hit known values and round to nearest even") {
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
  CHECK(f16_to_f32(0x7bff) == 65504.0f);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);       // tie -> even
  CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);   // tie -> even (up)
  CHECK(f32_to_f16(1e6f) == 0x7c00);
  CHECK(std::isnan(f16_to_f32(f32_to_f16(NAN))));
}

TEST_CASE("bf16 conversions") {
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(-3.5f) == 0xc060);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

}  // namespace
}  // namespace llmos
