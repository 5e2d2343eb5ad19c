// matmul at every ISA level against a plain double-precision reference built
// from common/quant.hpp: weights dequantized, and for Q8_0/Q4_0 weights the
// activations quantized to Q8_0 and dequantized too, exactly as the integer
// kernels see them. What remains is f32 summation order, so the tolerance is
// tight: |y - ref| <= 2e-5 * sum|w*x| + 1e-6. A single activation quantized
// differently from the reference would already break it at small cols.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cpu_test_util.hpp"
#include "llmos/common/quant.hpp"

namespace llmos::cpu {
namespace {

using driver::Weight;
using testing::available_levels;
using testing::driver_at;
using testing::random_floats;

struct HostWeight {
  std::vector<uint8_t> bytes;
  Weight w;
};

HostWeight make_weight(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  const auto f = random_floats(size_t(rows * cols), seed);
  HostWeight h;
  const size_t row_bytes = size_t(dtype_row_bytes(type, cols));
  h.bytes.resize(row_bytes * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, f.data() + r * cols, h.bytes.data() + r * row_bytes, cols);
  h.w = Weight{type, h.bytes.data(), rows, cols};
  return h;
}

bool quantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }

// Checks y against the reference; returns the number of mismatches (reports the first).
int check_matmul(const Weight& w, const std::vector<float>& x, const std::vector<float>& y, int n) {
  const int64_t rows = w.rows, cols = w.cols;
  const size_t row_bytes = size_t(dtype_row_bytes(w.type, cols));
  std::vector<float> wrow(static_cast<size_t>(cols)), xs(static_cast<size_t>(n * cols));
  if (quantized(w.type)) {
    std::vector<BlockQ8_0> q(static_cast<size_t>(cols / kQuantBlock));
    for (int t = 0; t < n; ++t) {
      quantize_row_q8_0(x.data() + t * cols, q.data(), cols);
      dequantize_row(DType::kQ8_0, q.data(), xs.data() + t * cols, cols);
    }
  } else {
    xs = x;
  }
  int bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + r * row_bytes, wrow.data(), cols);
    for (int t = 0; t < n; ++t) {
      double ref = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double p = double(wrow[size_t(c)]) * xs[size_t(t * cols + c)];
        ref += p;
        mag += std::fabs(p);
      }
      const double got = y[size_t(t * rows + r)];
      if (!(std::fabs(got - ref) <= 2e-5 * mag + 1e-6)) {
        if (bad++ == 0) MESSAGE("row " << r << " token " << t << ": got " << got << " want " << ref);
      }
    }
  }
  return bad;
}

TEST_CASE("matmul matches the reference for every type, level and odd shape") {
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (DType type : types) {
      std::vector<int64_t> cols_list = {32, 64, 96, 4064};
      if (!quantized(type)) cols_list.insert(cols_list.end(), {1, 7, 17, 100});
      for (int64_t cols : cols_list) {
        for (int64_t rows : {1, 3, 17, 250}) {
          const HostWeight hw = make_weight(type, rows, cols, uint32_t(rows * 131 + cols));
          for (int n : {1, 2, 5, 17}) {
            const auto x = random_floats(size_t(n * cols), uint32_t(n + cols), 2.0f);
            std::vector<float> y(size_t(n * rows), NAN);
            drv->matmul(hw.w, x.data(), y.data(), n);
            INFO(isa_level_name(level) << " " << dtype_name(type) << " rows=" << rows << " cols=" << cols
                                       << " n=" << n);
            CHECK(check_matmul(hw.w, x, y, n) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("matmul over many tokens and rows (prefill tiles, partial panels)") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level, 3);
    for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kF16}) {
      const HostWeight hw = make_weight(type, 1000, 256, 5);
      for (int n : {3, 8, 9, 64, 70}) {
        const auto x = random_floats(size_t(n * 256), uint32_t(n));
        std::vector<float> y(size_t(n * 1000), NAN);
        drv->matmul(hw.w, x.data(), y.data(), n);
        INFO(isa_level_name(level) << " " << dtype_name(type) << " n=" << n);
        CHECK(check_matmul(hw.w, x, y, n) == 0);
      }
    }
  }
}

TEST_CASE("matmul handles zero rows of activations and extreme magnitudes") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kF32}) {
      const HostWeight hw = make_weight(type, 20, 128, 9);
      std::vector<float> x(size_t(4 * 128), 0.0f);   // token 0: all zero
      for (int c = 0; c < 128; ++c) {
        x[size_t(128 + c)] = (c % 32 == 5) ? 1e4f : 1e-3f;   // token 1: one large value per block
        x[size_t(256 + c)] = c < 64 ? 0.0f : -3.0f;         // token 2: half the blocks zero
        x[size_t(384 + c)] = (c % 2 ? 0.5f : -0.5f) * 1e-20f; // token 3: tiny
      }
      std::vector<float> y(size_t(4 * 20), NAN);
      drv->matmul(hw.w, x.data(), y.data(), 4);
      INFO(isa_level_name(level) << " " << dtype_name(type));
      CHECK(check_matmul(hw.w, x, y, 4) == 0);
      for (int r = 0; r < 20; ++r) CHECK(y[size_t(r)] == 0.0f);
    }
  }
}

}  // namespace
}  // namespace llmos::cpu
