// Scalar dequantization of the low-bit blocks with their own block lengths:
// Q1_0 (128 signs) and Q2_0 (64 two-bit codes); layouts in dtype.hpp.
#include <cstring>

#include "llmos/common/fp16.hpp"
#include "quant_internal.hpp"

namespace llmos::quant_detail {

void dequantize_q1_0(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQ1_0Block; ++k) {
    const auto b = load_block<BlockQ1_0>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kQ1_0Block;
    for (int j = 0; j < kQ1_0Block; ++j) yb[j] = (b.qs[j / 8] >> (j % 8)) & 1 ? d : -d;
  }
}

void dequantize_q2_0(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQ2_0Block; ++k) {
    const auto b = load_block<BlockQ2_0>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kQ2_0Block;
    for (int j = 0; j < kQ2_0Block; ++j) yb[j] = float(int((b.qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
  }
}

}  // namespace llmos::quant_detail
