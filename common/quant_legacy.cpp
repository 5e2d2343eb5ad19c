// Scalar dequantization of the 32-element block types beyond Q8_0/Q4_0:
// Q4_1, Q5_0, Q5_1, IQ4_NL and MXFP4 (layouts in dtype.hpp).
#include <cmath>
#include <cstring>

#include "llmos/common/fp16.hpp"
#include "quant_internal.hpp"

namespace llmos::quant_detail {
namespace {

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

void dequantize_q4_1(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const auto b = load_block<BlockQ4_1>(src, k);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    float* yb = y + k * kQuantBlock;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      yb[j] = float(b.qs[j] & 0x0f) * d + m;
      yb[j + kQuantBlock / 2] = float(b.qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const auto b = load_block<BlockQ5_0>(src, k);
    const float d = f16_to_f32(b.d);
    const uint32_t qh = load_u32(b.qh);
    float* yb = y + k * kQuantBlock;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      const int lo = int((b.qs[j] & 0x0f) | (((qh >> j) & 1) << 4)) - 16;
      const int hi = int((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      yb[j] = float(lo) * d;
      yb[j + kQuantBlock / 2] = float(hi) * d;
    }
  }
}

void dequantize_q5_1(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const auto b = load_block<BlockQ5_1>(src, k);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    const uint32_t qh = load_u32(b.qh);
    float* yb = y + k * kQuantBlock;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      const uint32_t lo = (b.qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4);
      const uint32_t hi = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
      yb[j] = float(lo) * d + m;
      yb[j + kQuantBlock / 2] = float(hi) * d + m;
    }
  }
}

void dequantize_iq4_nl(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const auto b = load_block<BlockIQ4_NL>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kQuantBlock;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      yb[j] = d * float(kIq4nlValues[b.qs[j] & 0x0f]);
      yb[j + kQuantBlock / 2] = d * float(kIq4nlValues[b.qs[j] >> 4]);
    }
  }
}

void dequantize_mxfp4(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const auto b = load_block<BlockMXFP4>(src, k);
    const float d = std::ldexp(1.0f, int(b.e) - 128);  // half the E8M0 scale: the table is doubled
    float* yb = y + k * kQuantBlock;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      yb[j] = d * float(kMxfp4Values[b.qs[j] & 0x0f]);
      yb[j + kQuantBlock / 2] = d * float(kMxfp4Values[b.qs[j] >> 4]);
    }
  }
}

}  // namespace llmos::quant_detail
