// The reference the matmul tests hold every kernel to: weights dequantized by
// common/quant.hpp, activations quantized the way the kernels quantize them
// (none for float weights, Q8_K for super-block types, else Q8_0) and
// dequantized, then a double-precision dot. What remains is f32 summation
// order: |y - ref| <= 2e-5 * sum|w*x| + 1e-6. Test-only; not thread-safe.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/driver/driver.hpp"

namespace llmos::cpu::testing {

// A weight and the host bytes it points into.
struct HostWeight {
  std::vector<uint8_t> bytes;
  driver::Weight w;
};

// `n` rows of `cols` activations as the kernels see them for `type` weights.
inline std::vector<float> kernel_activations(DType type, const std::vector<float>& x, int n, int64_t cols) {
  if (!dtype_is_quantized(type)) return x;
  std::vector<float> out(x.size());
  if (dtype_block_elems(type) == kSuperBlock) {
    std::vector<int8_t> qs(static_cast<size_t>(cols));
    std::vector<float> d(size_t(cols / kSuperBlock));
    std::vector<int16_t> bs(size_t(cols / 16));
    for (int t = 0; t < n; ++t) {
      quantize_acts_q8k_scalar(x.data() + t * cols, cols, qs.data(), d.data(), bs.data());
      for (int64_t c = 0; c < cols; ++c) {
        out[size_t(t * cols + c)] = d[size_t(c / kSuperBlock)] * float(qs[size_t(c)]);
        if (c % 16 == 0) {
          int s = 0;
          for (int i = 0; i < 16; ++i) s += qs[size_t(c + i)];
          CHECK(s == bs[size_t(c / 16)]);
        }
      }
    }
  } else {
    std::vector<BlockQ8_0> q(size_t(cols / kQuantBlock));
    for (int t = 0; t < n; ++t) {
      quantize_row_q8_0(x.data() + t * cols, q.data(), cols);
      dequantize_row(DType::kQ8_0, q.data(), out.data() + t * cols, cols);
    }
  }
  return out;
}

// Checks y (n x w.rows) against the reference; returns the number of
// mismatches and reports the first.
inline int check_matmul(const driver::Weight& w, const std::vector<float>& x, const std::vector<float>& y, int n) {
  const int64_t rows = w.rows, cols = w.cols;
  const size_t row_bytes = size_t(dtype_row_bytes(w.type, cols));
  const std::vector<float> xs = kernel_activations(w.type, x, n, cols);
  std::vector<float> wrow(static_cast<size_t>(cols));
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

// Runs `drv`'s matmul of w by x (n tokens) and checks it (check_matmul).
inline int matmul_mismatches(driver::Driver& drv, const driver::Weight& w, const std::vector<float>& x, int n) {
  std::vector<float> y(size_t(n) * size_t(w.rows), NAN);
  drv.matmul(w, x.data(), y.data(), n);
  return check_matmul(w, x, y, n);
}

}  // namespace llmos::cpu::testing
