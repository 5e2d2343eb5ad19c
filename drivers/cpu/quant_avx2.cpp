// Integer Q8_0/Q4_0 matmul for AVX2: activations quantized to Q8_0, block dot
// products with maddubs/madd (Q8_0 weights through the sign trick, Q4_0 nibbles
// as unsigned bytes with an offset correction; at four tokens or more, eight
// rows at a time, transposed). Compiled with -mavx2 -mfma -mf16c; also the
// integer path of the AVX-512 level without VNNI.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "avx2_transpose.hpp"
#include "kernels.hpp"

namespace llmos::cpu {
namespace {

constexpr size_t kPrefetchAheadBytes = 3072;  // weight prefetch distance at one token

inline __m256 round_half_away(__m256 v) {
  // lround semantics, exactly: truncate, then step away from zero when the
  // fraction (exact in f32) is at least one half.
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
  const __m256 big = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  return _mm256_add_ps(t, _mm256_and_ps(big, step));
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float f16_scale(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// corr: Q8_0 uses the sign trick (no correction); Q4_0 adds -sum(x) to each of
// the 8 lanes of a block's dot product, i.e. -8 * sum(x) in all.
void quantize_acts_avx2(DType wtype, const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                             _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = _cvtsh_ss(_cvtss_sh(db, _MM_FROUND_TO_NEAREST_INT));
    const __m256 idv = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[i], idv)));
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kQuantBlock), bytes);
    corr[b] = wtype == DType::kQ4_0 ? -hsum_epi32(sum) : 0;
  }
}

// An R-row x T-token tile over all blocks.
template <bool kQ8, int R, int T>
void quant_tile(const uint8_t* w, size_t row_bytes, int64_t nb, const QuantizedActs& x, int t0,
                float* y, int64_t ldy) {
  constexpr size_t kBlockBytes = kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
  // The block scale product: a broadcast weight scale times the token's for
  // several tokens (one vector multiply each), a scalar product at one token.
  using Scale = std::conditional_t<(T > 1), __m256, float>;
  const auto scale = [](Scale dw, const float& dx) {
    if constexpr (T > 1) {
      return _mm256_mul_ps(dw, _mm256_broadcast_ss(&dx));
    } else {
      return _mm256_set1_ps(dw * dx);
    }
  };
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wu[R], ws[R];
    Scale dw[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBlockBytes;
      if constexpr (T > 1) {
        dw[r] = _mm256_set1_ps(f16_scale(blk));
      } else {
        dw[r] = f16_scale(blk);
      }
      if constexpr (kQ8) {
        ws[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
        wu[r] = _mm256_abs_epi8(ws[r]);
      } else {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
        wu[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low4);
      }
    }
    for (int t = 0; t < T; ++t) {
      const int64_t row = int64_t(t0 + t);
      const __m256i xv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + row * x.cols + b * kQuantBlock));
      for (int r = 0; r < R; ++r) {
        __m256i s;
        if constexpr (kQ8) {
          s = _mm256_madd_epi16(_mm256_maddubs_epi16(wu[r], _mm256_sign_epi8(xv, ws[r])), ones);
        } else {
          s = _mm256_madd_epi16(_mm256_maddubs_epi16(wu[r], xv), ones);
          s = _mm256_add_epi32(s, _mm256_set1_epi32(x.corr[row * nb + b]));
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale(dw[r], x.d[row * nb + b]), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[(t0 + t) * ldy + r] = hsum_ps(acc[r][t]);
}

template <bool kQ8, int R, int T>
void quant_rows(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1, int t0) {
  const int64_t nb = w.cols / kQuantBlock;
  const size_t row_bytes = size_t(nb) * (kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const auto* base = static_cast<const uint8_t*>(w.data);
  // One token streams each row once: software-prefetch ~3 KiB ahead, as the
  // L2 streamer ramps up too slowly on short rows.
  const int64_t ahead = T == 1 ? std::max<int64_t>(R, int64_t((kPrefetchAheadBytes + row_bytes - 1) / row_bytes)) : 0;
  int64_t r = r0;
  for (; r + R <= r1; r += R) {
    if (T == 1 && r + ahead < w.rows) {
      const auto* next = reinterpret_cast<const char*>(base + (r + ahead) * row_bytes);
      for (size_t off = 0; off < R * row_bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
    }
    quant_tile<kQ8, R, T>(base + r * row_bytes, row_bytes, nb, x, t0, y + r, w.rows);
  }
  for (; r < r1; ++r) quant_tile<kQ8, 1, T>(base + r * row_bytes, row_bytes, nb, x, t0, y + r, w.rows);
}

// Several tokens, eight rows at once: the rows' 32-bit words are transposed so
// that lane r holds row r's four weights of group k (Q8_0: an 8x8 transpose;
// Q4_0: a 4x4 one per lane of rows i | i + 4, then the two nibbles). A token's
// four bytes of that group, broadcast, meet all eight rows in one maddubs, and
// the block's conversion and fma are one vector for the eight rows, where the
// row-by-row tile spends them per row. Q4_0's eight groups add up in int16
// (at most 8 * 2 * 15 * 128 = 30720) before one madd; Q8_0 goes through the
// sign trick and needs a madd per group (two signed pair sums can overflow).
template <bool kQ8, int T>
void quant_rows8(const uint8_t* w, size_t row_bytes, int64_t nb, const QuantizedActs& x, int t0, float* y,
                 int64_t ldy) {
  constexpr size_t kBlockBytes = kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = w + b * kBlockBytes;
    alignas(16) uint16_t dh16[8];
    __m256i ws[8], wu[8];  // per group: signed (Q8_0) and unsigned weights, lane = row
    if constexpr (kQ8) {
      __m256i rw[8];
      for (int i = 0; i < 8; ++i) {
        const uint8_t* ri = blk + size_t(i) * row_bytes;
        rw[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ri + 2));
        std::memcpy(&dh16[i], ri, 2);
      }
      transpose8x8_epi32(rw, ws);
      for (int k = 0; k < 8; ++k) wu[k] = _mm256_abs_epi8(ws[k]);
    } else {
      __m256i a[4];  // rows i and i + 4: 16 nibble bytes each
      for (int i = 0; i < 4; ++i) {
        const uint8_t* lo = blk + size_t(i) * row_bytes;
        const uint8_t* hi = blk + size_t(i + 4) * row_bytes;
        a[i] = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hi + 2)),
                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(lo + 2)));
        std::memcpy(&dh16[i], lo, 2);
        std::memcpy(&dh16[i + 4], hi, 2);
      }
      // g[k] = word k of rows 0-3 | rows 4-7; its low nibbles are weights 4k..4k+3, the high ones 16 + 4k...
      const __m256i u01l = _mm256_unpacklo_epi32(a[0], a[1]), u01h = _mm256_unpackhi_epi32(a[0], a[1]);
      const __m256i u23l = _mm256_unpacklo_epi32(a[2], a[3]), u23h = _mm256_unpackhi_epi32(a[2], a[3]);
      const __m256i g[4] = {_mm256_unpacklo_epi64(u01l, u23l), _mm256_unpackhi_epi64(u01l, u23l),
                            _mm256_unpacklo_epi64(u01h, u23h), _mm256_unpackhi_epi64(u01h, u23h)};
      for (int k = 0; k < 4; ++k) {
        wu[k] = _mm256_and_si256(g[k], low4);
        wu[k + 4] = _mm256_and_si256(_mm256_srli_epi16(g[k], 4), low4);
      }
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dh16)));  // the rows' scales
    for (int t = 0; t < T; ++t) {
      const int64_t row = int64_t(t0 + t);
      const int8_t* xq = x.qs + row * x.cols + b * kQuantBlock;
      const auto group = [xq](int k) { return _mm256_broadcastd_epi32(_mm_loadu_si32(xq + 4 * k)); };
      __m256i s;
      if constexpr (kQ8) {
        s = _mm256_setzero_si256();
        for (int k = 0; k < 8; ++k) {
          const __m256i p = _mm256_maddubs_epi16(wu[k], _mm256_sign_epi8(group(k), ws[k]));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(p, ones));
        }
      } else {
        __m256i p = _mm256_setzero_si256();
        for (int k = 0; k < 8; ++k) p = _mm256_add_epi16(p, _mm256_maddubs_epi16(wu[k], group(k)));
        // Nibbles entered unsigned: corr = -sum(x), times the offset 8.
        s = _mm256_add_epi32(_mm256_madd_epi16(p, ones), _mm256_set1_epi32(8 * x.corr[row * nb + b]));
      }
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(x.d[row * nb + b])), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + (t0 + t) * ldy, acc[t]);
}

template <bool kQ8, int T>
void rows8_tokens(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1, int t0) {
  const int64_t nb = w.cols / kQuantBlock;
  const size_t row_bytes = size_t(nb) * (kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const auto* base = static_cast<const uint8_t*>(w.data);
  int64_t r = r0;
  for (; r + 8 <= r1; r += 8) quant_rows8<kQ8, T>(base + r * row_bytes, row_bytes, nb, x, t0, y + r, w.rows);
  for (; r < r1; ++r) quant_tile<kQ8, 1, T>(base + r * row_bytes, row_bytes, nb, x, t0, y + r, w.rows);
}

template <bool kQ8>
void matmul_quant_typed(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1) {
  if (x.n == 1) {  // one row at a time: a single stream per thread, prefetched
    quant_rows<kQ8, 1, 1>(w, x, y, r0, r1, 0);
    return;
  }
  // Eight or four tokens over eight transposed rows at a time; two or three
  // tokens over pairs of rows.
  int t0 = 0;
  for (; t0 + 8 <= x.n; t0 += 8) rows8_tokens<kQ8, 8>(w, x, y, r0, r1, t0);
  for (; t0 + 4 <= x.n; t0 += 4) rows8_tokens<kQ8, 4>(w, x, y, r0, r1, t0);
  for (; t0 + 2 <= x.n; t0 += 2) quant_rows<kQ8, 2, 2>(w, x, y, r0, r1, t0);
  if (t0 < x.n) quant_rows<kQ8, 2, 1>(w, x, y, r0, r1, t0);
}

void matmul_quant_avx2(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1,
                       uint8_t*) {
  if (w.type == DType::kQ8_0) {
    matmul_quant_typed<true>(w, x, y, r0, r1);
  } else {
    matmul_quant_typed<false>(w, x, y, r0, r1);
  }
}

size_t matmul_quant_scratch_none(int64_t, int64_t) { return 0; }

}  // namespace

void fill_avx2_quant_kernels(CpuKernels& k) {
  k.quantize_acts = &quantize_acts_avx2;
  k.matmul_quant = &matmul_quant_avx2;
  k.matmul_quant_scratch = &matmul_quant_scratch_none;
}

}  // namespace llmos::cpu
