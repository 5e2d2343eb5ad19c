// matmul on the ext weight types (Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4, Q2_K..Q6_K,
// IQ4_XS, IQ3_S, TQ1_0, TQ2_0, Q1_0, Q2_0) at every ISA level against the double-precision
// reference of matmul_test_util.hpp. Weights are random blocks with sane scale
// fields.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cpu_test_util.hpp"
#include "matmul_test_util.hpp"
#include "llmos/driver/testing/random_blocks.hpp"

namespace llmos::cpu {
namespace {

using driver::Weight;
using testing::available_levels;
using testing::check_matmul;
using testing::driver_at;
using testing::HostWeight;
using testing::matmul_mismatches;
using testing::random_floats;

constexpr DType kExtTypes[] = {DType::kQ4_1, DType::kQ5_0,  DType::kQ5_1,  DType::kIQ4_NL, DType::kMXFP4,
                               DType::kQ2_K, DType::kQ3_K,  DType::kQ4_K,  DType::kQ5_K,  DType::kQ6_K,
                               DType::kIQ4_XS, DType::kTQ1_0, DType::kTQ2_0, DType::kIQ3_S, DType::kQ1_0,
                               DType::kQ2_0};

HostWeight random_weight(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  HostWeight h;
  h.bytes = driver::testing::random_blocks(type, rows, cols, seed);
  h.w = Weight{type, h.bytes.data(), rows, cols};
  return h;
}

TEST_CASE("ext-type matmul matches dequantize + f32 dot at every level, odd rows and token counts") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (DType type : kExtTypes) {
      const int64_t block = dtype_block_elems(type);
      for (int64_t cols : {block, 3 * block, int64_t(1024 + (block < kSuperBlock ? 3 * block : 0))}) {
        for (int64_t rows : {1, 3, 17, 70}) {
          const HostWeight hw = random_weight(type, rows, cols, uint32_t(rows * 131 + cols + int(type)));
          for (int n : {1, 2, 3, 4, 5, 12}) {  // 12 = a pass of 8 tokens, then one of 4
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
