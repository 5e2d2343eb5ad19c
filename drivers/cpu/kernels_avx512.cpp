// Float kernels for AVX-512 F/BW/VL/DQ (16 floats per vector, masked tails).
// Compiled with AVX-512 flags; called only where detect_isa_level() >= kAvx512.
#include <immintrin.h>

#include <cstdint>

#include "kernels.hpp"
#include "simd_exp.hpp"

namespace llmos::cpu {
namespace {

struct Avx512V {
  using F = __m512;
  static constexpr int kWidth = 16;
  static constexpr int kTileRows = 4;  // 16 accumulators + 4 weights + 1 input of 32 registers
  static constexpr int kTileTokens = 4;

  static __mmask16 part_mask(int n) { return __mmask16((1u << n) - 1); }
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load_part(const float* p, int n) { return _mm512_maskz_loadu_ps(part_mask(n), p); }
  static F load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load_f16_part(const uint16_t* p, int n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(part_mask(n), p));
  }
  static F bf16_to_f32(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static F load_bf16(const uint16_t* p) {
    return bf16_to_f32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load_bf16_part(const uint16_t* p, int n) {
    return bf16_to_f32(_mm256_maskz_loadu_epi16(part_mask(n), p));
  }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store_part(float* p, F v, int n) { _mm512_mask_storeu_ps(p, part_mask(n), v); }
  static void store_f16(uint16_t* p, F v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static void store_f16_part(uint16_t* p, F v, int n) {
    _mm256_mask_storeu_epi16(p, part_mask(n), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F exp(F x) {
    using namespace simd_exp;
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kMinX)), _mm512_set1_ps(kMaxX));
    const F n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    F r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
    F p = _mm512_set1_ps(kP0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
  }
  static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  // Lane j = sum of the lanes of v[j], for 16 vectors (a transpose-and-add tree).
  static F reduce_many(const F* v) {
    __m512 u[8];
    for (int k = 0; k < 8; ++k)  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
      u[k] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]),
                           _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]));
    __m512 w[4];
    for (int m = 0; m < 4; ++m)  // per 128-bit lane L: the lane-L sums of v[4m .. 4m+3]
      w[m] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * m], u[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_ps(u[2 * m], u[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 z01 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
    const __m512 z23 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88), _mm512_shuffle_f32x4(w[2], w[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(z01, z23, 0x88), _mm512_shuffle_f32x4(z01, z23, 0xdd));
  }
  static F blend_part(F a, F b, int n) { return _mm512_mask_blend_ps(part_mask(n), b, a); }
  // 16 x 16 in place: r[c] lane i = old r[i] lane c.
  static void transpose(F* r) {
    __m512 t[16], u[16];
    for (int k = 0; k < 8; ++k) {
      t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 4; ++k) {  // u[4k + m], 128-bit lane L: rows 4k..4k+3 of column 4L + m
      u[4 * k + 0] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
      u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xee);
      u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
      u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xee);
    }
    for (int m = 0; m < 4; ++m) {  // column 4L + m = lane L of u[m], u[4+m], u[8+m], u[12+m]
      const __m512 x0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44);
      const __m512 x1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xee);
      const __m512 y0 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44);
      const __m512 y1 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xee);
      r[m] = _mm512_shuffle_f32x4(x0, y0, 0x88);
      r[4 + m] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
      r[8 + m] = _mm512_shuffle_f32x4(x1, y1, 0x88);
      r[12 + m] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
    }
  }
};

}  // namespace
}  // namespace llmos::cpu

#include "attention_impl.hpp"
#include "float_kernels_impl.hpp"

namespace llmos::cpu {

void fill_avx512_float_kernels(CpuKernels& k) {
  fill_float_kernels<Avx512V>(k);
  k.attention = &attention<Avx512V>;
}

}  // namespace llmos::cpu
