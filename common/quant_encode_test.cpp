// The quantizers of Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K to Q6_K and IQ4_XS: round
// trips through the reference dequantizers stay within each type's error bound,
// on odd block counts and awkward rows (zeros, constants, spikes, one sign, tiny
// and large values), and the bit packing puts known values where they belong.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "llmos/common/quant.hpp"

namespace llmos {
namespace {

std::vector<float> gaussian_row(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  return x;
}

std::vector<float> round_trip(DType type, const std::vector<float>& x) {
  const auto n = int64_t(x.size());
  std::vector<uint8_t> buf(size_t(dtype_row_bytes(type, n)));
  std::vector<float> y(x.size());
  quantize_row(type, x.data(), buf.data(), n);
  dequantize_row(type, buf.data(), y.data(), n);
  return y;
}

double rms(const std::vector<float>& a) {
  double s = 0;
  for (float v : a) s += double(v) * v;
  return std::sqrt(s / double(a.size()));
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / double(a.size()));
}

// Relative RMSE on unit Gaussian rows: a bound a little above what a good
// quantizer of each type reaches (llama.cpp's reaches about the same).
struct TypeBound {
  DType type;
  double rel_rmse;
};
constexpr TypeBound kBounds[] = {
    {DType::kQ4_1, 0.115}, {DType::kQ5_0, 0.060}, {DType::kQ5_1, 0.057}, {DType::kIQ4_NL, 0.105},
    {DType::kQ2_K, 0.34},  {DType::kQ3_K, 0.19},  {DType::kQ4_K, 0.10},  {DType::kQ5_K, 0.050},
    {DType::kQ6_K, 0.025}, {DType::kIQ4_XS, 0.105},
};

TEST_CASE("every quantizer round-trips Gaussian rows within its type's error bound") {
  for (const auto& b : kBounds) {
    const int64_t blk = dtype_block_elems(b.type);
    for (int64_t blocks : {1, 3, 7}) {  // odd block counts
      const auto x = gaussian_row(blk * blocks * 4, uint32_t(blocks * 31 + int(b.type)));
      const auto y = round_trip(b.type, x);
      const double rel = rmse(x, y) / rms(x);
      INFO(dtype_name(b.type), " blocks=", blocks * 4, " rel rmse=", rel);
      CHECK(rel < b.rel_rmse);
      // No element strays further than a few quantization steps of its block.
      double amax = 0, emax = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        amax = std::fmax(amax, std::fabs(x[i]));
        emax = std::fmax(emax, std::fabs(double(x[i]) - y[i]));
      }
      CHECK(emax < amax * 0.5);
    }
  }
}

TEST_CASE("quantizers keep zeros, constants, spikes, one-signed, tiny and large rows finite and close") {
  for (const auto& b : kBounds) {
    const int64_t n = 2 * dtype_block_elems(b.type) * (dtype_block_elems(b.type) == 32 ? 8 : 1);
    INFO(dtype_name(b.type));
    {  // all zero -> all zero
      const auto y = round_trip(b.type, std::vector<float>(size_t(n), 0.0f));
      for (float v : y) CHECK(v == 0.0f);
    }
    {  // a constant row: within 15% (types without an offset spend levels on it)
      const auto y = round_trip(b.type, std::vector<float>(size_t(n), 0.75f));
      for (float v : y) CHECK(std::fabs(v - 0.75f) < 0.75f * 0.15f);
    }
    {  // one spike among zeros: the spike survives, the zeros stay small
      std::vector<float> x(size_t(n), 0.0f);
      x[5] = -3.0f;
      const auto y = round_trip(b.type, x);
      CHECK(std::fabs(y[5] + 3.0f) < 0.3f);
      for (size_t i = 0; i < x.size(); ++i)
        if (i != 5) CHECK(std::fabs(y[i]) < 0.35f);
    }
    for (float scale : {1e-3f, 1.0f, 1000.0f}) {  // one sign; small and large magnitudes
      auto x = gaussian_row(n, 99, scale);
      for (auto& v : x) v = std::fabs(v) + scale * 0.1f;
      const auto y = round_trip(b.type, x);
      for (float v : y) CHECK(std::isfinite(v));
      CHECK(rmse(x, y) / rms(x) < 0.5);
    }
  }
}

TEST_CASE("exactly representable blocks round-trip exactly") {
  SUBCASE("Q5_0: d = 0.5, levels -16..15") {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[size_t(i)] = 0.5f * float(i - 16);
    CHECK(round_trip(DType::kQ5_0, x) == x);
  }
  SUBCASE("Q4_1: d = 0.25, m = -1, levels 0..15 twice") {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[size_t(i)] = 0.25f * float(i % 16) - 1.0f;
    CHECK(round_trip(DType::kQ4_1, x) == x);
  }
  SUBCASE("Q6_K: one scale, levels -32..31 four times") {
    std::vector<float> x(256);
    for (int i = 0; i < 256; ++i) x[size_t(i)] = 0.125f * float((i * 7) % 64 - 32);
    CHECK(round_trip(DType::kQ6_K, x) == x);
  }
  SUBCASE("Q4_K: levels 0..15 with a shared scale 63/64 and no offset") {
    std::vector<float> x(256);  // super-block scale 1/64 times sub-block scale 63
    for (int i = 0; i < 256; ++i) x[size_t(i)] = 63.0f / 64.0f * float((i * 5) % 16);
    CHECK(round_trip(DType::kQ4_K, x) == x);
  }
  SUBCASE("IQ4_NL: the table itself") {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[size_t(i)] = float(kIq4nlValues[(i * 3) % 16]) / 64.0f;
    CHECK(round_trip(DType::kIQ4_NL, x) == x);
  }
}

}  // namespace
}  // namespace llmos
