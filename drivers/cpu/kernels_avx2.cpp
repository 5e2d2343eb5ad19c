// Float kernels for AVX2 + FMA + F16C (8 floats per vector). Compiled with
// -mavx2 -mfma -mf16c; called only where detect_isa_level() >= kAvx2.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels.hpp"
#include "simd_exp.hpp"

namespace llmos::cpu {
namespace {

struct Avx2V {
  using F = __m256;
  static constexpr int kWidth = 8;
  static constexpr int kTileRows = 4;  // 4 x 2 accumulators + 4 weights + 1 input of 16 registers
  static constexpr int kTileTokens = 2;

  static __m256i part_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load_part(const float* p, int n) { return _mm256_maskload_ps(p, part_mask(n)); }
  static F load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static F load_f16_part(const uint16_t* p, int n) {
    uint16_t tmp[8] = {};
    std::memcpy(tmp, p, size_t(n) * 2);
    return load_f16(tmp);
  }
  static F load_bf16(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static F load_bf16_part(const uint16_t* p, int n) {
    uint16_t tmp[8] = {};
    std::memcpy(tmp, p, size_t(n) * 2);
    return load_bf16(tmp);
  }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store_part(float* p, F v, int n) { _mm256_maskstore_ps(p, part_mask(n), v); }
  static void store_f16(uint16_t* p, F v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static void store_f16_part(uint16_t* p, F v, int n) {
    uint16_t tmp[8];
    store_f16(tmp, v);
    std::memcpy(p, tmp, size_t(n) * 2);
  }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F exp(F x) {
    using namespace simd_exp;
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kMinX)), _mm256_set1_ps(kMaxX));
    const F n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    F r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
    F p = _mm256_set1_ps(kP0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static float reduce_add(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(F v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Lane j = sum of the lanes of v[j], for 8 vectors (a transpose-and-add tree).
  static F reduce_many(const F* v) {
    __m256 u[4];
    for (int k = 0; k < 4; ++k)  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
      u[k] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * k], v[2 * k + 1]),
                           _mm256_unpackhi_ps(v[2 * k], v[2 * k + 1]));
    __m256 w[2];
    for (int m = 0; m < 2; ++m)  // per 128-bit lane: the lane sums of v[4m .. 4m+3]
      w[m] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * m], u[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm256_shuffle_ps(u[2 * m], u[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_permute2f128_ps(w[0], w[1], 0x20), _mm256_permute2f128_ps(w[0], w[1], 0x31));
  }
  static F blend_part(F a, F b, int n) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(part_mask(n))); }
  // 8 x 8 in place: r[c] lane i = old r[i] lane c.
  static void transpose(F* r) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; ++k) {
      t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; ++k) {  // u[4k + m], 128-bit lane L: rows 4k..4k+3 of column 4L + m
      u[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
      u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xee);
      u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
      u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xee);
    }
    for (int m = 0; m < 4; ++m) {
      r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
      r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
  }
};

}  // namespace
}  // namespace llmos::cpu

#include "attention_impl.hpp"
#include "float_kernels_impl.hpp"

namespace llmos::cpu {

void fill_avx2_float_kernels(CpuKernels& k) {
  fill_float_kernels<Avx2V>(k);
  k.attention = &attention<Avx2V>;
}

}  // namespace llmos::cpu
