#include "llmos/common/quant.hpp"

#include "llmos/common/fp16.hpp"
#include "llmos/common/iq3s_grid.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

namespace llmos {
namespace {

std::vector<float> random_row(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  return x;
}

TEST_CASE("each type round-trips within its quantization step") {
  const int n = 96;
  auto x = random_row(n, 7);
  float amax = 0;
  for (float v : x) amax = std::fmax(amax, std::fabs(v));
  struct Case { DType type; float tol; };
  for (auto c : {Case{DType::kF32, 0.0f}, Case{DType::kF16, 1e-3f * amax}, Case{DType::kBF16, 8e-3f * amax},
                 Case{DType::kQ8_0, amax / 127.0f}, Case{DType::kQ4_0, amax / 7.0f}}) {
    std::vector<uint8_t> buf(dtype_row_bytes(c.type, n));
    std::vector<float> y(n);
    quantize_row(c.type, x.data(), buf.data(), n);
    dequantize_row(c.type, buf.data(), y.data(), n);
    for (int i = 0; i < n; ++i) CHECK_MESSAGE(std::fabs(x[i] - y[i]) <= c.tol, dtype_name(c.type) << " elem " << i);
  }
}

TEST_CASE("Q4_0 packs element j low and j+16 high, value = d * (q - 8)") {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = float(i - 16);  // -16 .. 15, largest magnitude -16
  BlockQ4_0 b;
  quantize_row_q4_0(x.data(), &b, 32);
  std::vector<float> y(32);
  dequantize_row(DType::kQ4_0, &b, y.data(), 32);
  CHECK(y[0] == doctest::Approx(-16.0f));  // -16 maps to q = 0 with d = 2
  CHECK((b.qs[0] & 0x0f) == 0);
  CHECK((b.qs[0] >> 4) == 8);  // element 16 is 0 -> q = 8
  CHECK(y[31] == doctest::Approx(14.0f));  // 15 rounds to 14 with step 2
}

TEST_CASE("Q1_0 and Q2_0 decode bit j of byte j / 8 and code j % 4 of byte j / 4") {
  BlockQ1_0 b1{};
  b1.d = f32_to_f16(0.5f);
  b1.qs[0] = 0x05;   // elements 0 and 2 set
  b1.qs[15] = 0x80;  // element 127 set
  std::vector<float> y(kQ1_0Block);
  dequantize_row(DType::kQ1_0, &b1, y.data(), kQ1_0Block);
  CHECK(y[0] == 0.5f);
  CHECK(y[1] == -0.5f);
  CHECK(y[2] == 0.5f);
  CHECK(y[126] == -0.5f);
  CHECK(y[127] == 0.5f);

  BlockQ2_0 b2{};
  b2.d = f32_to_f16(2.0f);
  b2.qs[0] = 0xe4;  // codes 0, 1, 2, 3 for elements 0..3
  b2.qs[15] = 0x40; // element 63: code 1, 60..62: code 0
  y.assign(kQ2_0Block, NAN);
  dequantize_row(DType::kQ2_0, &b2, y.data(), kQ2_0Block);
  CHECK(y[0] == -2.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == 2.0f);
  CHECK(y[3] == 4.0f);
  CHECK(y[60] == -2.0f);
  CHECK(y[63] == 0.0f);
}

TEST_CASE("IQ3_S: grid point from qs plus a qh bit, sub-block scale 1 + 2s, sign bits") {
  BlockIQ3_S b{};
  b.d = f32_to_f16(0.25f);
  b.qs[0] = 3;         // group 0: point 3
  b.qs[9] = 7;         // group 9 (sub-block 1): point 7 | 256 via qh[1] bit 1
  b.qh[1] = 0x02;
  b.signs[0] = 0x02;   // element 1 negative
  b.scales[0] = 0x31;  // sub-block 0: scale 1 -> 3; sub-block 1: scale 3 -> 7
  std::vector<float> y(kSuperBlock);
  dequantize_row(DType::kIQ3_S, &b, y.data(), kSuperBlock);
  for (int j = 0; j < 4; ++j) {
    INFO("j=" << j);
    CHECK(y[size_t(j)] == doctest::Approx((j == 1 ? -1 : 1) * 0.25f * 3 * float(iq3s_magnitude(3, j))));
    CHECK(y[size_t(36 + j)] == doctest::Approx(0.25f * 7 * float(iq3s_magnitude(256 + 7, j))));
    CHECK(y[size_t(4 + j)] == doctest::Approx(0.25f * 3 * float(iq3s_magnitude(0, j))));
  }
  CHECK(kIq3sGrid.points[0] == 0x01010101u);
}

}  // namespace
}  // namespace llmos
