#include "llmos/common/quant.hpp"

#include <cmath>
#include <cstring>

#include "llmos/common/fp16.hpp"
#include "llmos/common/status.hpp"
#include "quant_encode_internal.hpp"
#include "quant_internal.hpp"

namespace llmos {

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int i = 0; i < kQuantBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int i = 0; i < kQuantBlock; ++i) y[b].qs[i] = int8_t(std::lround(xb[i] * id));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    // The scale maps the value of largest magnitude to -8, so its sign picks
    // which end of the asymmetric 4-bit range [-8, 7] gets the extra step.
    float amax = 0.0f, vmax = 0.0f;
    for (int i = 0; i < kQuantBlock; ++i) {
      if (std::fabs(xb[i]) > amax) {
        amax = std::fabs(xb[i]);
        vmax = xb[i];
      }
    }
    const float d = vmax / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      int lo = int(xb[j] * id + 8.5f);
      int hi = int(xb[j + kQuantBlock / 2] * id + 8.5f);
      lo = lo < 0 ? 0 : (lo > 15 ? 15 : lo);
      hi = hi < 0 ? 0 : (hi > 15 ? 15 : hi);
      y[b].qs[j] = uint8_t(lo | (hi << 4));
    }
  }
}

void quantize_row(DType type, const float* x, void* dst, int64_t n) {
  switch (type) {
    case DType::kF32: std::memcpy(dst, x, size_t(n) * 4); return;
    case DType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(x[i]);
      return;
    }
    case DType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(x[i]);
      return;
    }
    case DType::kQ8_0: quantize_row_q8_0(x, static_cast<BlockQ8_0*>(dst), n); return;
    case DType::kQ4_0: quantize_row_q4_0(x, static_cast<BlockQ4_0*>(dst), n); return;
    case DType::kQ4_1: return quant_detail::quantize_q4_1(x, dst, n);
    case DType::kQ5_0: return quant_detail::quantize_q5_0(x, dst, n);
    case DType::kQ5_1: return quant_detail::quantize_q5_1(x, dst, n);
    case DType::kIQ4_NL: return quant_detail::quantize_iq4_nl(x, dst, n);
    case DType::kQ2_K: return quant_detail::quantize_q2_k(x, dst, n);
    case DType::kQ3_K: return quant_detail::quantize_q3_k(x, dst, n);
    case DType::kQ4_K: return quant_detail::quantize_q4_k(x, dst, n);
    case DType::kQ5_K: return quant_detail::quantize_q5_k(x, dst, n);
    case DType::kQ6_K: return quant_detail::quantize_q6_k(x, dst, n);
    case DType::kIQ4_XS: return quant_detail::quantize_iq4_xs(x, dst, n);
    default: break;
  }
  LLMOS_REQUIRE(false, "quantize_row: no quantizer for this weight type");
}

void dequantize_row(DType type, const void* src, float* y, int64_t n) {
  switch (type) {
    case DType::kF32: std::memcpy(y, src, size_t(n) * 4); return;
    case DType::kF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::kQ8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t k = 0; k < n / kQuantBlock; ++k) {
        const float d = f16_to_f32(b[k].d);
        for (int i = 0; i < kQuantBlock; ++i) y[k * kQuantBlock + i] = d * float(b[k].qs[i]);
      }
      return;
    }
    case DType::kQ4_0: {
      const auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t k = 0; k < n / kQuantBlock; ++k) {
        const float d = f16_to_f32(b[k].d);
        float* yb = y + k * kQuantBlock;
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          yb[j] = d * float(int(b[k].qs[j] & 0x0f) - 8);
          yb[j + kQuantBlock / 2] = d * float(int(b[k].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case DType::kQ4_1: return quant_detail::dequantize_q4_1(src, y, n);
    case DType::kQ5_0: return quant_detail::dequantize_q5_0(src, y, n);
    case DType::kQ5_1: return quant_detail::dequantize_q5_1(src, y, n);
    case DType::kIQ4_NL: return quant_detail::dequantize_iq4_nl(src, y, n);
    case DType::kMXFP4: return quant_detail::dequantize_mxfp4(src, y, n);
    case DType::kQ2_K: return quant_detail::dequantize_q2_k(src, y, n);
    case DType::kQ3_K: return quant_detail::dequantize_q3_k(src, y, n);
    case DType::kQ4_K: return quant_detail::dequantize_q4_k(src, y, n);
    case DType::kQ5_K: return quant_detail::dequantize_q5_k(src, y, n);
    case DType::kQ6_K: return quant_detail::dequantize_q6_k(src, y, n);
    case DType::kIQ4_XS: return quant_detail::dequantize_iq4_xs(src, y, n);
    case DType::kTQ1_0: return quant_detail::dequantize_tq1_0(src, y, n);
    case DType::kTQ2_0: return quant_detail::dequantize_tq2_0(src, y, n);
    case DType::kIQ3_S: return quant_detail::dequantize_iq3_s(src, y, n);
    case DType::kQ1_0: return quant_detail::dequantize_q1_0(src, y, n);
    case DType::kQ2_0: return quant_detail::dequantize_q2_0(src, y, n);
  }
}

}  // namespace llmos
