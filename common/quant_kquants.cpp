// Scalar dequantization of the 256-element super-block types: Q2_K to Q6_K,
// IQ4_XS, IQ3_S and the ternary TQ1_0/TQ2_0 (layouts in dtype.hpp).
#include <cstring>

#include "llmos/common/fp16.hpp"
#include "llmos/common/iq3s_grid.hpp"
#include "llmos/common/kquant_scales.hpp"
#include "quant_internal.hpp"

namespace llmos::quant_detail {

void dequantize_q2_k(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockQ2_K>(src, k);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    float* yb = y + k * kSuperBlock;
    for (int i = 0; i < kSuperBlock; ++i) {
      const int half = i / 128, j = (i % 128) / 32, l = i % 32;
      const int q = (b.qs[half * 32 + l] >> (2 * j)) & 3;
      const uint8_t s = b.scales[i / 16];
      yb[i] = d * float(s & 0x0f) * float(q) - dmin * float(s >> 4);
    }
  }
}

void dequantize_q3_k(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockQ3_K>(src, k);
    const float d = f16_to_f32(b.d);
    int8_t sc[16];
    q3k_scales(b.scales, sc);
    float* yb = y + k * kSuperBlock;
    for (int i = 0; i < kSuperBlock; ++i) {
      const int half = i / 128, j = (i % 128) / 32, l = i % 32;
      const int lo = (b.qs[half * 32 + l] >> (2 * j)) & 3;
      const int q = lo - ((b.hmask[l] >> (half * 4 + j)) & 1 ? 0 : 4);
      yb[i] = d * float(sc[i / 16]) * float(q);
    }
  }
}

void dequantize_q4_k(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockQ4_K>(src, k);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    float* yb = y + k * kSuperBlock;
    for (int s = 0; s < 8; ++s) {  // sub-block s: 64-chunk s/2, low nibbles when s is even
      uint8_t sc, m;
      kquant_scale_min(s, b.scales, sc, m);
      const float dl = d * float(sc), ml = dmin * float(m);
      const uint8_t* q = b.qs + (s / 2) * 32;
      for (int l = 0; l < 32; ++l) {
        const int v = s % 2 == 0 ? (q[l] & 0x0f) : (q[l] >> 4);
        yb[s * 32 + l] = dl * float(v) - ml;
      }
    }
  }
}

void dequantize_q5_k(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockQ5_K>(src, k);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    float* yb = y + k * kSuperBlock;
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      kquant_scale_min(s, b.scales, sc, m);
      const float dl = d * float(sc), ml = dmin * float(m);
      const uint8_t* q = b.qs + (s / 2) * 32;
      for (int l = 0; l < 32; ++l) {
        const int v = (s % 2 == 0 ? (q[l] & 0x0f) : (q[l] >> 4)) | (((b.qh[l] >> s) & 1) << 4);
        yb[s * 32 + l] = dl * float(v) - ml;
      }
    }
  }
}

void dequantize_q6_k(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockQ6_K>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kSuperBlock;
    for (int i = 0; i < kSuperBlock; ++i) {
      // Half h (128 elements) uses ql[64h..], qh[32h..]; quarter j of it: low or
      // high nibble of ql[64h + 32*(j%2) + l], bits 2j of qh[32h + l].
      const int h = i / 128, j = (i % 128) / 32, l = i % 32;
      const uint8_t lb = b.ql[64 * h + 32 * (j % 2) + l];
      const int lo = j < 2 ? (lb & 0x0f) : (lb >> 4);
      const int hi = (b.qh[32 * h + l] >> (2 * j)) & 3;
      yb[i] = d * float(b.scales[i / 16]) * float((lo | (hi << 4)) - 32);
    }
  }
}

void dequantize_iq4_xs(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockIQ4_XS>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kSuperBlock;
    for (int s = 0; s < 8; ++s) {
      const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0x0f) | (((b.scales_h >> (2 * s)) & 3) << 4);
      const float dl = d * float(ls - 32);
      const uint8_t* q = b.qs + s * 16;
      for (int j = 0; j < 16; ++j) {
        yb[s * 32 + j] = dl * float(kIq4nlValues[q[j] & 0x0f]);
        yb[s * 32 + j + 16] = dl * float(kIq4nlValues[q[j] >> 4]);
      }
    }
  }
}

namespace {
// Trit `n` of a TQ1_0 byte: the byte is a base-3 fraction scaled to 256, so
// multiplying by 3^n (mod 256) moves trit n to the top, and *3 >> 8 reads it.
int tq1_trit(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto q = uint8_t(unsigned(byte) * kPow3[n]);
  return int((unsigned(q) * 3) >> 8) - 1;
}
}  // namespace

void dequantize_tq1_0(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockTQ1_0>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kSuperBlock;
    int i = 0;
    // qs[0..32): 5 trits per byte, element 32n + m is trit n of byte m; then
    // qs[32..48) the same with 16-byte rows; then qh with 4 trits per byte.
    for (int n5 = 0; n5 < 5; ++n5)
      for (int m = 0; m < 32; ++m) yb[i++] = float(tq1_trit(b.qs[m], n5)) * d;
    for (int n5 = 0; n5 < 5; ++n5)
      for (int m = 0; m < 16; ++m) yb[i++] = float(tq1_trit(b.qs[32 + m], n5)) * d;
    for (int n4 = 0; n4 < 4; ++n4)
      for (int m = 0; m < 4; ++m) yb[i++] = float(tq1_trit(b.qh[m], n4)) * d;
  }
}

void dequantize_tq2_0(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockTQ2_0>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kSuperBlock;
    for (int i = 0; i < kSuperBlock; ++i) {
      const int h = i / 128, l4 = (i % 128) / 32, m = i % 32;
      const int q = (b.qs[32 * h + m] >> (2 * l4)) & 3;
      yb[i] = float(q - 1) * d;
    }
  }
}

void dequantize_iq3_s(const void* src, float* y, int64_t n) {
  for (int64_t k = 0; k < n / kSuperBlock; ++k) {
    const auto b = load_block<BlockIQ3_S>(src, k);
    const float d = f16_to_f32(b.d);
    float* yb = y + k * kSuperBlock;
    for (int g = 0; g < kSuperBlock / 4; ++g) {  // groups of 4 elements, one grid point each
      const int s = g / 8;
      const float dl = d * float(1 + 2 * ((b.scales[s / 2] >> (4 * (s % 2))) & 0x0f));
      const int point = b.qs[g] | (((b.qh[g / 8] >> (g % 8)) & 1) << 8);
      for (int j = 0; j < 4; ++j) {
        const int e = 4 * g + j;
        const float mag = float(iq3s_magnitude(point, j));
        yb[e] = (b.signs[e / 8] >> (e % 8)) & 1 ? -dl * mag : dl * mag;
      }
    }
  }
}

}  // namespace llmos::quant_detail
