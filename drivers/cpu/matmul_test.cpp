// matmul at every ISA level against the double-precision reference of
// matmul_test_util.hpp: weights dequantized, and for Q8_0/Q4_0 weights the
// activations quantized to Q8_0 and dequantized too, exactly as the integer
// kernels see them. The tolerance is tight; a single activation quantized
// differently from the reference would already break it at small cols.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cpu_test_util.hpp"
#include "llmos/common/quant.hpp"
#include "matmul_test_util.hpp"

namespace llmos::cpu {
namespace {

using driver::Weight;
using testing::available_levels;
using testing::check_matmul;
using testing::driver_at;
using testing::HostWeight;
using testing::matmul_mismatches;
using testing::random_floats;

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
            INFO(isa_level_name(level) << " " << dtype_name(type) << " rows=" << rows << " cols=" << cols
                                       << " n=" << n);
            CHECK(matmul_mismatches(*drv, hw.w, x, n) == 0);
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
