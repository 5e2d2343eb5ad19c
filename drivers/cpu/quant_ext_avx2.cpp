// AVX2 kernels for the ext weight types (see CpuKernels::matmul_quant_ext).
// Every type but the ternary ones unpacks its blocks in registers: K-quant
// fields enter maddubs as unsigned bytes against the Q8_K activations, the
// sub-block scales are applied by madd, and mins / fixed offsets go through the
// activations' 16-element sums (Q4_K/Q5_K: the token's scaled 32-element sums
// in f32); table types (IQ4_NL, IQ4_XS, MXFP4) look their
// values up with pshufb and take the sign trick. TQ1_0/TQ2_0 decode each block
// (quant_ext_decode.hpp); Q1_0 and Q2_0 unpack 32 weights in registers; IQ3_S gathers its grid points
// and moves its signs onto the activations. Weights are read once per group of up to 8 tokens.
// Compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.hpp"
#include "quant_ext_decode.hpp"

namespace llmos::cpu {
namespace {

constexpr int kMaxTokens = 8;  // tokens per pass over a row's blocks
constexpr size_t kPrefetchAheadBytes = 3072;  // weight prefetch distance at one token

inline void prefetch_bytes(const uint8_t* p, size_t n) {
  for (size_t off = 0; off < n; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// lround semantics (as llmos::quantize_row_q8_0): truncate, step away from zero
// when the fraction is at least one half.
inline __m256 round_half_away(__m256 v) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
  const __m256 big = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  return _mm256_add_ps(t, _mm256_and_ps(big, step));
}

inline float max_abs(const float* x, int n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}

// 32 int32 (4 vectors of 8 in element order) to 32 int8 in element order.
inline __m256i pack32(const __m256i q[4]) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
  const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
  return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
}

void quantize_acts_ext_avx2(DType wtype, const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr,
                            int16_t* bsums) {
  if (!is_super_block_type(wtype)) {  // Q8_0 blocks, bit-identical to the scalar reference
    for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
      const float* xb = x + b * kQuantBlock;
      const float db = max_abs(xb, kQuantBlock) / 127.0f;
      const float id = db != 0.0f ? 1.0f / db : 0.0f;
      d[b] = _cvtsh_ss(_cvtss_sh(db, _MM_FROUND_TO_NEAREST_INT));
      const __m256 idv = _mm256_set1_ps(id);
      __m256i q[4];
      for (int i = 0; i < 4; ++i)
        q[i] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * i), idv)));
      corr[b] = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kQuantBlock), pack32(q));
    }
    return;
  }
  // Q8_K blocks, bit-identical to quantize_acts_q8k_scalar (round to nearest even).
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < cols / kSuperBlock; ++b) {
    const float* xb = x + b * kSuperBlock;
    const float amax = max_abs(xb, kSuperBlock);
    const float iscale = amax != 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax != 0.0f ? 1.0f / iscale : 0.0f;
    const __m256 iv = _mm256_set1_ps(iscale);
    const __m256 cap = _mm256_set1_ps(127.0f);
    for (int c = 0; c < kSuperBlock / 32; ++c) {
      __m256i q[4];
      for (int i = 0; i < 4; ++i) {
        const __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 32 * c + 8 * i), iv),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[i] = _mm256_cvttps_epi32(_mm256_min_ps(v, cap));
      }
      const __m256i bytes = pack32(q);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kSuperBlock + 32 * c), bytes);
      // Sums of 16: pairs (maddubs), quads (madd), then the two 16-sums per 128-bit half.
      __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, bytes), ones16);
      s4 = _mm256_hadd_epi32(s4, s4);
      s4 = _mm256_hadd_epi32(s4, s4);
      bsums[b * 16 + 2 * c] = int16_t(_mm256_extract_epi32(s4, 0));
      bsums[b * 16 + 2 * c + 1] = int16_t(_mm256_extract_epi32(s4, 4));
    }
  }
}

struct TokenPtrs {
  const int8_t* qs[kMaxTokens];
  const float* d[kMaxTokens];
  const int16_t* bsums[kMaxTokens];
  const int32_t* corr[kMaxTokens];
  const float* sums32[kMaxTokens];
};

TokenPtrs token_ptrs(const QuantizedActs& x, int t0, int T, int64_t nb, int64_t bs_per_block) {
  TokenPtrs p{};
  for (int t = 0; t < T; ++t) {
    const int64_t row = t0 + t;
    p.qs[t] = x.qs + row * x.cols;
    p.d[t] = x.d + row * nb;
    if (x.bsums) p.bsums[t] = x.bsums + row * nb * bs_per_block;
    if (x.corr) p.corr[t] = x.corr + row * nb;
    if (x.sums32) p.sums32[t] = x.sums32 + row * (x.cols / 32);
  }
  return p;
}

// sum over g of a[g] * b[g] for 16 int16 pairs.
inline int32_t dot16_i16(const int16_t* a, const int16_t* b) {
  return hsum_epi32(_mm256_madd_epi16(load256(a), load256(b)));
}

// ---- Q4_K / Q5_K ------------------------------------------------------------
// The 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K/Q5_K block from its
// 12 packed bytes, as kquant_scale_min reads them, four at a time in 32-bit words.
inline __m128i q4k_scales_mins(const uint8_t* packed) {
  uint32_t w[3];
  std::memcpy(w, packed, 12);
  constexpr uint32_t k6 = 0x3f3f3f3f, k4 = 0x0f0f0f0f, k2 = 0x03030303;
  const uint32_t sc_lo = w[0] & k6;                                  // scales 0-3
  const uint32_t sc_hi = (w[2] & k4) | (((w[0] >> 6) & k2) << 4);    // scales 4-7
  const uint32_t mn_lo = w[1] & k6;                                  // mins 0-3
  const uint32_t mn_hi = ((w[2] >> 4) & k4) | (((w[1] >> 6) & k2) << 4);  // mins 4-7
  return _mm_setr_epi32(int(sc_lo), int(sc_hi), int(mn_lo), int(mn_hi));
}

// A shuffle control that broadcasts int16 element k of each 128-bit lane.
inline __m256i bcast16(int k) { return _mm256_set1_epi16(int16_t(((2 * k + 1) << 8) | (2 * k))); }

template <bool kQ5, int T>
void q45k_row(const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  constexpr size_t kBB = kQ5 ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * kBB;
    const float d = f16_at(blk), dmin = f16_at(blk + 2);
    const __m128i sm = q4k_scales_mins(blk + 4);
    // int16 scales 0-7 in both lanes; dmin * the 8 mins in f32.
    const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m256 mn =
        _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(sm, sm))));
    const uint8_t* qs = blk + (kQ5 ? 48 : 16);
    __m256i qh;
    if constexpr (kQ5) qh = load256(blk + 16);
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q4 = load256(qs + 32 * j);
      __m256i lo = _mm256_and_si256(q4, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
      if constexpr (kQ5) {  // bits 2j, 2j+1 of qh: at bits 0, 1 after j shifts by 2, moved to bit 4
        const __m256i bit5 = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit5));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit5));
        qh = _mm256_srli_epi16(qh, 2);
      }
      const __m256i slo = _mm256_shuffle_epi8(sc, bcast16(2 * j));
      const __m256i shi = _mm256_shuffle_epi8(sc, bcast16(2 * j + 1));
      for (int t = 0; t < T; ++t) {
        const int8_t* xq = x.qs[t] + b * kSuperBlock + 64 * j;
        const __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(xq)), slo);
        const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(xq + 32)), shi);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(plo, phi));
      }
    }
    // Mins: dmin * min[g] times the token's d * sum of group g's 32 qs.
    const __m256 dv = _mm256_set1_ps(d);
    for (int t = 0; t < T; ++t) {
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_mul_ps(dv, _mm256_broadcast_ss(x.d[t] + b)), acc[t]);
      acc[t] = _mm256_fnmadd_ps(mn, _mm256_loadu_ps(x.sums32[t] + 8 * b), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

// ---- Q6_K -------------------------------------------------------------------
template <int T>
void q6k_row(const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  // Quarter j of a half: the low lane takes scale 2j, the high lane 2j + 1.
  const __m256i pick[4] = {_mm256_set_m128i(_mm256_castsi256_si128(bcast16(1)), _mm256_castsi256_si128(bcast16(0))),
                           _mm256_set_m128i(_mm256_castsi256_si128(bcast16(3)), _mm256_castsi256_si128(bcast16(2))),
                           _mm256_set_m128i(_mm256_castsi256_si128(bcast16(5)), _mm256_castsi256_si128(bcast16(4))),
                           _mm256_set_m128i(_mm256_castsi256_si128(bcast16(7)), _mm256_castsi256_si128(bcast16(6)))};
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * sizeof(BlockQ6_K);
    const float d = f16_at(blk + 208);
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);  // all 16 scales
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = load256(blk + 64 * h);
      const __m256i l1 = load256(blk + 64 * h + 32);
      const __m256i qh = load256(blk + 128 + 32 * h);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), low2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), low2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), low2), 4));
      // Scales 8h..8h+7 in both lanes.
      const __m128i sc_half = h == 0 ? sc8 : _mm_unpackhi_epi64(sc8, sc8);
      const __m256i sh = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc_half));
      for (int j = 0; j < 4; ++j) {
        const __m256i s = _mm256_shuffle_epi8(sh, pick[j]);
        for (int t = 0; t < T; ++t) {
          const __m256i xv = load256(x.qs[t] + b * kSuperBlock + 128 * h + 32 * j);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], xv), s));
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      // q6 entered unsigned: subtract the offset 32 * sum_g sc[g] * bsum[g].
      const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(x.bsums[t] + b * 16)), 5);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], off)), _mm256_set1_ps(d * x.d[t][b]),
                               acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

// ---- Q2_K / Q3_K ------------------------------------------------------------
// 2-bit fields (plus Q3_K's third bit) entered as unsigned bytes; per-16 scales
// through the same lane shuffles as Q6_K. Q2_K subtracts dmin * min * bsum; Q3_K
// stores q3 = q - 4 with a clear hmask bit meaning "minus 4": entering
// u = low2 + 4 * bit (0..7), the offset is 4 * sum_g sc[g] * bsum[g].
// The 16 signed Q3_K scales (as q3k_scales), four per 32-bit word.
inline __m128i q3k_scales16(const uint8_t* packed) {
  uint32_t w[3];
  std::memcpy(w, packed, 12);
  constexpr uint32_t k4 = 0x0f0f0f0f, k2 = 0x03030303;
  const __m128i u = _mm_setr_epi32(int((w[0] & k4) | ((w[2] & k2) << 4)),
                                   int((w[1] & k4) | (((w[2] >> 2) & k2) << 4)),
                                   int(((w[0] >> 4) & k4) | (((w[2] >> 4) & k2) << 4)),
                                   int(((w[1] >> 4) & k4) | (((w[2] >> 6) & k2) << 4)));
  return _mm_sub_epi8(u, _mm_set1_epi8(32));
}

template <bool kQ3, int T>
void q23k_row(const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  constexpr size_t kBB = kQ3 ? sizeof(BlockQ3_K) : sizeof(BlockQ2_K);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  const __m256i pick[4] = {_mm256_set_m128i(_mm256_castsi256_si128(bcast16(1)), _mm256_castsi256_si128(bcast16(0))),
                           _mm256_set_m128i(_mm256_castsi256_si128(bcast16(3)), _mm256_castsi256_si128(bcast16(2))),
                           _mm256_set_m128i(_mm256_castsi256_si128(bcast16(5)), _mm256_castsi256_si128(bcast16(4))),
                           _mm256_set_m128i(_mm256_castsi256_si128(bcast16(7)), _mm256_castsi256_si128(bcast16(6)))};
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * kBB;
    __m128i sc8;  // 16 scales as bytes
    __m256i mn16 = _mm256_setzero_si256();
    float d, dmin = 0.0f;
    const uint8_t* qs;
    __m256i hm = _mm256_setzero_si256();
    if constexpr (kQ3) {
      sc8 = q3k_scales16(blk + 96);
      d = f16_at(blk + 108);
      qs = blk + 32;
      hm = load256(blk);
    } else {
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
      sc8 = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
      mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
      d = f16_at(blk + 80);
      dmin = f16_at(blk + 82);
      qs = blk + 16;
    }
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      __m256i q2 = load256(qs + 32 * h);
      const __m128i sc_half = h == 0 ? sc8 : _mm_unpackhi_epi64(sc8, sc8);  // scales 8h..8h+7
      const __m256i sh = _mm256_broadcastsi128_si256(kQ3 ? _mm_cvtepi8_epi16(sc_half) : _mm_cvtepu8_epi16(sc_half));
      for (int j = 0; j < 4; ++j) {
        __m256i q = _mm256_and_si256(q2, low2);
        q2 = _mm256_srli_epi16(q2, 2);
        if constexpr (kQ3) {  // bit 4h + j of hmask: shifted down one step per quarter
          q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(hm, _mm256_set1_epi8(1)), 2));
          hm = _mm256_srli_epi16(hm, 1);
        }
        const __m256i s = _mm256_shuffle_epi8(sh, pick[j]);
        for (int t = 0; t < T; ++t) {
          const __m256i xv = load256(x.qs[t] + b * kSuperBlock + 128 * h + 32 * j);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), s));
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const float dx = x.d[t][b];
      const __m256i bs = load256(x.bsums[t] + b * 16);
      if constexpr (kQ3) {
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bs), 2);
        sumi[t] = _mm256_sub_epi32(sumi[t], off);
      }
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(d * dx), acc[t]);
      if constexpr (!kQ3)
        acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bs)), _mm256_set1_ps(dmin * dx), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

// ---- IQ4_XS -----------------------------------------------------------------
inline __m256i nibbles32(const uint8_t* p) {  // 16 bytes: low nibbles, then high
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0f));
}

inline __m256i table16(const int8_t* t) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

inline __m256i dot_signed(__m256i q, __m256i xv) {
  return _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(xv, q));
}

template <int T>
void iq4xs_row(const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  const __m256i values = table16(kIq4nlValues);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + b * sizeof(BlockIQ4_XS);
    const float d = f16_at(blk);
    uint16_t sh;
    std::memcpy(&sh, blk + 2, 2);
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int s = 0; s < 8; ++s) {
      const int ls = ((blk[4 + s / 2] >> (4 * (s % 2))) & 0x0f) | (((sh >> (2 * s)) & 3) << 4);
      const __m256i scale = _mm256_set1_epi16(int16_t(ls - 32));
      const __m256i q = _mm256_shuffle_epi8(values, nibbles32(blk + 8 + 16 * s));
      for (int t = 0; t < T; ++t) {
        const __m256i p = dot_signed(q, load256(x.qs[t] + b * kSuperBlock + 32 * s));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, scale));
      }
    }
    for (int t = 0; t < T; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(d * x.d[t][b]), acc[t]);
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

// ---- 32-element types: Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4 --------------------------
// Byte i of the result is 0xff where bit i of `bits` is set.
inline __m256i bytes_from_bits(uint32_t bits) {
  const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)), spread), bit);
  return _mm256_cmpeq_epi8(v, bit);
}

template <DType type, int T>
void legacy32_row(const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i iq4 = table16(kIq4nlValues), fp4 = table16(kMxfp4Values);
  constexpr size_t bb = size_t(dtype_block_bytes(type));
  __m256 acc[T];
  float offs[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps(), offs[t] = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + size_t(b) * bb;
    constexpr bool kMin = type == DType::kQ4_1 || type == DType::kQ5_1;  // unsigned q, + m * sum(x)
    float d = 0.0f, m = 0.0f;
    __m256i q;
    if constexpr (type == DType::kQ4_1) {
      d = f16_at(blk), m = f16_at(blk + 2);
      q = nibbles32(blk + 4);
    } else if constexpr (type == DType::kQ5_0 || type == DType::kQ5_1) {
      uint32_t qh;
      std::memcpy(&qh, blk + (kMin ? 4 : 2), 4);
      d = f16_at(blk);
      q = _mm256_or_si256(nibbles32(blk + (kMin ? 8 : 6)),
                          _mm256_and_si256(bytes_from_bits(qh), _mm256_set1_epi8(0x10)));
      if constexpr (kMin) {
        m = f16_at(blk + 2);
      } else {
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
      }
    } else if constexpr (type == DType::kIQ4_NL) {
      d = f16_at(blk);
      q = _mm256_shuffle_epi8(iq4, nibbles32(blk + 2));
    } else {  // MXFP4: the E8M0 exponent, halved (the value table is doubled)
      uint32_t bits = blk[0] < 2 ? (0x00200000u << blk[0]) : (uint32_t(blk[0]) - 1) << 23;
      std::memcpy(&d, &bits, 4);
      q = _mm256_shuffle_epi8(fp4, nibbles32(blk + 1));
    }
    for (int t = 0; t < T; ++t) {
      const __m256i xv = load256(x.qs[t] + b * kQuantBlock);
      const __m256i p = kMin ? _mm256_maddubs_epi16(q, xv) : dot_signed(q, xv);
      const float dx = x.d[t][b];
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), _mm256_set1_ps(d * dx), acc[t]);
      if constexpr (kMin) offs[t] += m * dx * float(x.corr[t][b]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]) + offs[t];
}

// ---- TQ1_0, TQ2_0: decode to signed bytes, sign trick -------------------------

template <int T>
void generic256_row(DType type, const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  __m256 acc[T];
  float mins[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps(), mins[t] = 0.0f;
  alignas(32) Decoded256 blk;
  for (int64_t b = 0; b < nb; ++b) {
    decode_block256(type, row, b, blk);
    for (int t = 0; t < T; ++t) {
      __m256i sumi = _mm256_setzero_si256();
      for (int k = 0; k < 8; ++k) {
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(blk.sc[2 * k + 1]), _mm_set1_epi16(blk.sc[2 * k]));
        const __m256i p = dot_signed(load256(blk.q + 32 * k), load256(x.qs[t] + b * kSuperBlock + 32 * k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
      }
      const float dx = x.d[t][b];
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(blk.d * dx), acc[t]);
      if (blk.dmin != 0.0f) mins[t] += blk.dmin * dx * float(dot16_i16(blk.mn, x.bsums[t] + b * 16));
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]) - mins[t];
}

// ---- Q1_0, Q2_0: each 32 elements unpacked to signed bytes, sign trick --------
// nb: the row's Q8_0 activation blocks (four per Q1_0 block, two per Q2_0 block).
template <int T>
void lowbit32_row(DType type, const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i one8 = _mm256_set1_epi8(1), three = _mm256_set1_epi8(3);
  // Q2_0: byte e of 32 takes source byte e / 4 (the lanes hold bytes 0-3 and 4-7
  // of the eight), and its code sits at bits 2 * (e % 4).
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,  //
                                          4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
  const __m256i pos = _mm256_set1_epi32(int32_t(0xff000000)), pos2 = _mm256_set1_epi32(0x00ff0000),
                pos1 = _mm256_set1_epi32(0x0000ff00), pos0 = _mm256_set1_epi32(0x000000ff);
  const bool q1 = type == DType::kQ1_0;
  const int64_t per_block = dtype_block_elems(type) / kQuantBlock;
  const size_t block_bytes = size_t(dtype_block_bytes(type));
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + size_t(b / per_block) * block_bytes;
    const int part = int(b % per_block);
    __m256i q;  // the 32 weights as signed bytes, d apart
    if (q1) {  // bit set: +1, clear: -1
      uint32_t bits;
      std::memcpy(&bits, blk + 2 + 4 * part, 4);
      q = _mm256_sub_epi8(_mm256_and_si256(bytes_from_bits(bits), _mm256_set1_epi8(2)), one8);
    } else {  // code - 1, -1..2
      int64_t eight;
      std::memcpy(&eight, blk + 2 + 8 * part, 8);
      const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi64x(eight), spread);
      const __m256i c = _mm256_or_si256(
          _mm256_or_si256(_mm256_and_si256(v, pos0), _mm256_and_si256(_mm256_srli_epi16(v, 2), pos1)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(v, 4), pos2),
                          _mm256_and_si256(_mm256_srli_epi32(v, 6), pos)));
      q = _mm256_sub_epi8(_mm256_and_si256(c, three), one8);
    }
    const float d = f16_at(blk);
    for (int t = 0; t < T; ++t) {
      const __m256i p = dot_signed(q, load256(x.qs[t] + b * kQuantBlock));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), _mm256_set1_ps(d * x.d[t][b]), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

// ---- IQ3_S: grid points gathered 8 at a time, signs moved onto the activations ---
template <int T>
void iq3s_row(const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i qh_shift = _mm256_setr_epi32(8, 7, 6, 5, 4, 3, 2, 1);  // bit k of qh to bit 8 of lane k
  const __m256i bit8 = _mm256_set1_epi32(256);
  const auto* grid = reinterpret_cast<const int*>(kIq3sGrid.points);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = row + size_t(b) * sizeof(BlockIQ3_S);
    const uint8_t *qs = blk + 2, *qh = blk + 66, *signs = blk + 74, *scales = blk + 106;
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int s = 0; s < 8; ++s) {
      int64_t lo;
      std::memcpy(&lo, qs + 8 * s, 8);
      const __m256i idx = _mm256_or_si256(
          _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(lo)),
          _mm256_and_si256(_mm256_sllv_epi32(_mm256_set1_epi32(qh[s]), qh_shift), bit8));
      const __m256i mag = _mm256_i32gather_epi32(grid, idx, 4);  // 32 magnitudes 1..15, element order
      uint32_t sbits;
      std::memcpy(&sbits, signs + 4 * s, 4);
      const __m256i sign = _mm256_or_si256(bytes_from_bits(sbits), ones8);  // -1 where negated, else 1
      const __m256i scale = _mm256_set1_epi16(int16_t(1 + 2 * ((scales[s / 2] >> (4 * (s % 2))) & 0x0f)));
      for (int t = 0; t < T; ++t) {
        const __m256i xv = _mm256_sign_epi8(load256(x.qs[t] + b * kSuperBlock + 32 * s), sign);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(mag, xv), scale));
      }
    }
    const float d = f16_at(blk);
    for (int t = 0; t < T; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(d * x.d[t][b]), acc[t]);
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps(acc[t]);
}

template <int T>
void row_tokens(DType type, const uint8_t* row, int64_t nb, const TokenPtrs& x, float* out) {
  switch (type) {
    case DType::kQ4_K: return q45k_row<false, T>(row, nb, x, out);
    case DType::kQ5_K: return q45k_row<true, T>(row, nb, x, out);
    case DType::kQ6_K: return q6k_row<T>(row, nb, x, out);
    case DType::kQ2_K: return q23k_row<false, T>(row, nb, x, out);
    case DType::kQ3_K: return q23k_row<true, T>(row, nb, x, out);
    case DType::kIQ4_XS: return iq4xs_row<T>(row, nb, x, out);
    case DType::kQ4_1: return legacy32_row<DType::kQ4_1, T>(row, nb, x, out);
    case DType::kQ5_0: return legacy32_row<DType::kQ5_0, T>(row, nb, x, out);
    case DType::kQ5_1: return legacy32_row<DType::kQ5_1, T>(row, nb, x, out);
    case DType::kIQ4_NL: return legacy32_row<DType::kIQ4_NL, T>(row, nb, x, out);
    case DType::kMXFP4: return legacy32_row<DType::kMXFP4, T>(row, nb, x, out);
    case DType::kIQ3_S: return iq3s_row<T>(row, nb, x, out);
    case DType::kQ1_0:
    case DType::kQ2_0: return lowbit32_row<T>(type, row, nb, x, out);
    default: return generic256_row<T>(type, row, nb, x, out);  // TQ1_0, TQ2_0
  }
}

void matmul_ext_avx2(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1) {
  const int64_t nb = w.cols / ext_acts_block(w.type);
  const size_t row_bytes = size_t(dtype_row_bytes(w.type, w.cols));
  const auto* base = static_cast<const uint8_t*>(w.data);
  // One token streams each row once: software-prefetch the row ~3 KiB ahead
  // (1.15-1.25x on cold weights, 2 threads), as the L2 streamer ramps up too
  // slowly on short rows.
  const int64_t ahead = std::max<int64_t>(1, int64_t((kPrefetchAheadBytes + row_bytes - 1) / row_bytes));
  for (int t0 = 0; t0 < x.n; t0 += kMaxTokens) {
    const int T = x.n - t0 < kMaxTokens ? x.n - t0 : kMaxTokens;
    const TokenPtrs tp = token_ptrs(x, t0, T, nb, is_super_block_type(w.type) ? 16 : 0);
    float out[kMaxTokens];
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = base + size_t(r) * row_bytes;
      if (T == 1 && r + ahead < w.rows) prefetch_bytes(row + size_t(ahead) * row_bytes, row_bytes);
      switch (T) {
        case 1: row_tokens<1>(w.type, row, nb, tp, out); break;
        case 2: row_tokens<2>(w.type, row, nb, tp, out); break;
        case 3: row_tokens<3>(w.type, row, nb, tp, out); break;
        case 4: row_tokens<4>(w.type, row, nb, tp, out); break;
        case 5: row_tokens<5>(w.type, row, nb, tp, out); break;
        case 6: row_tokens<6>(w.type, row, nb, tp, out); break;
        case 7: row_tokens<7>(w.type, row, nb, tp, out); break;
        default: row_tokens<8>(w.type, row, nb, tp, out); break;
      }
      for (int t = 0; t < T; ++t) y[int64_t(t0 + t) * w.rows + r] = out[t];
    }
  }
}

}  // namespace

void fill_avx2_ext_quant_kernels(CpuKernels& k) {
  k.quantize_acts_ext = &quantize_acts_ext_avx2;
  k.matmul_quant_ext = &matmul_ext_avx2;
}

}  // namespace llmos::cpu
