// matmul on the ext weight types (Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4, Q2_K..Q6_K,
// IQ4_XS, TQ1_0, TQ2_0) at every ISA level against a double-precision reference:
// weights dequantized by common/quant.hpp, activations quantized the way the
// kernels quantize them (Q8_0 or Q8_K) and dequantized. Weights are random
// blocks with sane scale fields. What remains is f32 summation order.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "cpu_test_util.hpp"
#include "kernels.hpp"
#include "llmos/common/fp16.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/driver/testing/random_blocks.hpp"

namespace llmos::cpu {
namespace {

using driver::Weight;
using testing::available_levels;
using testing::driver_at;
using testing::random_floats;

constexpr DType kExtTypes[] = {DType::kQ4_1, DType::kQ5_0,  DType::kQ5_1,  DType::kIQ4_NL, DType::kMXFP4,
                               DType::kQ2_K, DType::kQ3_K,  DType::kQ4_K,  DType::kQ5_K,  DType::kQ6_K,
                               DType::kIQ4_XS, DType::kTQ1_0, DType::kTQ2_0};

struct HostWeight {
  std::vector<uint8_t> bytes;
  Weight w;
};

HostWeight random_weight(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  HostWeight h;
  h.bytes = driver::testing::random_blocks(type, rows, cols, seed);
  h.w = Weight{type, h.bytes.data(), rows, cols};
  return h;
}

// Activations as the kernels see them.
std::vector<float> quantized_acts(DType type, const std::vector<float>& x, int n, int64_t cols) {
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

int check_matmul(const Weight& w, const std::vector<float>& x, const std::vector<float>& y, int n) {
  const int64_t rows = w.rows, cols = w.cols;
  const size_t row_bytes = size_t(dtype_row_bytes(w.type, cols));
  const std::vector<float> xs = quantized_acts(w.type, x, n, cols);
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

TEST_CASE("ext-type matmul matches dequantize + f32 dot at every level, odd rows and token counts") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (DType type : kExtTypes) {
      const int64_t block = dtype_block_elems(type);
      for (int64_t cols : {block, 3 * block, int64_t(1024 + (block == 32 ? 96 : 0))}) {
        for (int64_t rows : {1, 3, 17, 70}) {
          const HostWeight hw = random_weight(type, rows, cols, uint32_t(rows * 131 + cols + int(type)));
          for (int n : {1, 2, 3, 5, 9}) {
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

TEST_CASE("ext-type matmul: zero, tiny and spiky activations") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level, 3);
    for (DType type : kExtTypes) {
      const HostWeight hw = random_weight(type, 33, 512, 9);
      std::vector<float> x(size_t(4 * 512), 0.0f);  // token 0: all zero
      for (int c = 0; c < 512; ++c) {
        x[size_t(512 + c)] = (c % 37 == 5) ? 1e4f : 1e-3f;
        x[size_t(1024 + c)] = c < 256 ? 0.0f : -3.0f;
        x[size_t(1536 + c)] = (c % 2 ? 0.5f : -0.5f) * 1e-20f;
      }
      std::vector<float> y(size_t(4 * 33), NAN);
      drv->matmul(hw.w, x.data(), y.data(), 4);
      INFO(isa_level_name(level) << " " << dtype_name(type));
      CHECK(check_matmul(hw.w, x, y, 4) == 0);
      for (int r = 0; r < 33; ++r) CHECK(y[size_t(r)] == 0.0f);
    }
  }
}

}  // namespace
}  // namespace llmos::cpu
