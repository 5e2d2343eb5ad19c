#include "llmos/common/quant.hpp"

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

}  // namespace
}  // namespace llmos
