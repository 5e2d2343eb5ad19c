// Integer Q8_0/Q4_0 matmul for AVX-512 VNNI. Activations are quantized to Q8_0
// (signed); weights enter vpdpbusd as unsigned bytes (Q8_0 xor 0x80, Q4_0 raw
// nibbles) and each block's dot product starts from corr = -offset * sum(x).
//  - panels (Q4_0 always, Q8_0 from two tokens; vnni_panel_impl.hpp): 16 rows
//    transposed (lane = row, 4 bytes of K per lane) so one vpdpbusd covers 16
//    rows x 4 columns of one token fed by a broadcast activation dword; a
//    packed block serves a tile of up to 8 tokens from registers (packed on
//    the fly for one tile, into scratch once per task for more);
//  - direct (Q8_0, one token): rows streamed as they are, two blocks per vector.
// Compiled with AVX-512 F/BW/VL/DQ/VNNI flags; used from IsaLevel::kAvx512Vnni
// (and by the AMX kernels for few tokens).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels.hpp"
#include "vnni_panel_impl.hpp"

namespace llmos::cpu {
namespace {

constexpr int kPanelTokens = 8;

inline __m512 round_half_away(__m512 v) {
  // lround semantics, exactly (see quant_avx2.cpp).
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f),
                                           _CMP_GE_OQ);
  const __m512 step = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(int32_t(0x80000000u))),
      _mm512_castps_si512(_mm512_set1_ps(1.0f))));
  return _mm512_mask_add_ps(t, big, t, step);
}

void quantize_acts_vnni(DType wtype, const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr) {
  const int32_t offset = wtype == DType::kQ8_0 ? 128 : 8;
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = _cvtsh_ss(_cvtss_sh(db, _MM_FROUND_TO_NEAREST_INT));
    const __m512 idv = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v0, idv)));
    const __m512i q1 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v1, idv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kQuantBlock), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kQuantBlock + 16), _mm512_cvtepi32_epi8(q1));
    corr[b] = -offset * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
}

// ---- direct (Q8_0, one token): R rows, two blocks per 512-bit vector ---------


template <int R>
void direct_q8_rows(const uint8_t* w, size_t row_bytes, int64_t nb, const int8_t* xq, const float* xd,
                    const int32_t* xc, float* y, const uint8_t* next_rows, size_t next_bytes) {
  GroupPrefetcher prefetch(next_rows, next_bytes, nb / 2);
  constexpr size_t kBB = sizeof(BlockQ8_0);
  const __m512i idx01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    prefetch.advance();
    const __m512i xv = _mm512_loadu_si512(xq + b * kQuantBlock);
    // the two blocks' corrections in lanes 0 and 8; x scales broadcast per half
    const __m512i cv = _mm512_maskz_permutexvar_epi32(
        0x0101, idx01, _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xc + b))));
    const __m512 dxv = _mm512_permutexvar_ps(
        idx01, _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(xd + b)))));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBB;
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kBB + 2));
      const __m512i wv = xor_sign(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
      const __m512i s = _mm512_dpbusd_epi32(cv, wv, xv);
      const __m256i dh = _mm256_set_m128i(_mm_set1_epi16(short(load_u16(blk + kBB))),
                                          _mm_set1_epi16(short(load_u16(blk))));
      const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(dh), dxv);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[r]);
    }
  }
  float tail[R] = {};
  if (b < nb) {  // an odd last block, on 256-bit vectors
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * kQuantBlock));
    const __m256i cv = _mm256_setr_epi32(xc[b], 0, 0, 0, 0, 0, 0, 0);
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBB;
      const __m256i wv = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)),
                                          _mm256_set1_epi8(char(0x80)));
      const __m256i s = _mm256_dpbusd_epi32(cv, wv, xv);
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
      tail[r] = _cvtsh_ss(load_u16(blk)) * xd[b] * float(_mm_cvtsi128_si32(s4));
    }
  }
  for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]) + tail[r];
}

void direct_q8(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1) {
  const int64_t nb = w.cols / kQuantBlock;
  const size_t row_bytes = size_t(nb) * sizeof(BlockQ8_0);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int t = 0; t < x.n; ++t) {
    const int8_t* xq = x.qs + int64_t(t) * x.cols;
    const float* xd = x.d + t * nb;
    const int32_t* xc = x.corr + t * nb;
    float* yt = y + int64_t(t) * w.rows;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
      const int64_t next = std::min<int64_t>(r1 - (r + 4), 4);
      direct_q8_rows<4>(base + r * row_bytes, row_bytes, nb, xq, xd, xc, yt + r,
                        next > 0 ? base + (r + 4) * row_bytes : nullptr, size_t(next) * row_bytes);
    }
    for (; r < r1; ++r) direct_q8_rows<1>(base + r * row_bytes, row_bytes, nb, xq, xd, xc, yt + r, nullptr, 0);
  }
}

// ---- panels: 16 rows x up to 8 tokens ----------------------------------------

// Up to 8 tokens' quantized activations.
template <int T>
struct TokenTile {
  const int8_t* q[T];
  const float* d[T];
  const int32_t* c[T];
  TokenTile(const QuantizedActs& x, int t0) {
    const int64_t nb = x.cols / kQuantBlock;
    for (int t = 0; t < T; ++t) {
      q[t] = x.qs + int64_t(t0 + t) * x.cols;
      d[t] = x.d + int64_t(t0 + t) * nb;
      c[t] = x.corr + int64_t(t0 + t) * nb;
    }
  }
};

// acc[t] += block b of the panel rows . token t, for the T tokens of the tile.
template <int T>
inline void dot_block(const __m512i wg[8], __m512 dw, const TokenTile<T>& x, int64_t b, __m512 acc[T]) {
  // Tokens innermost: the T dot-product chains are independent, so each round
  // of T vpdpbusd issues back to back instead of waiting on latency.
  __m512i s[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) s[t] = _mm512_set1_epi32(x.c[t][b]);
#pragma GCC unroll 8
  for (int g = 0; g < 8; ++g)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
      s[t] = _mm512_dpbusd_epi32(s[t], wg[g], _mm512_set1_epi32(load_i32(x.q[t] + b * kQuantBlock + 4 * g)));
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, _mm512_set1_ps(x.d[t][b])), acc[t]);
}

template <int T>
inline void store_tile(const __m512 acc[T], float* y, int64_t ldy, int valid) {
  const __mmask16 mask = __mmask16((1u << valid) - 1);
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, acc[t]);
}

// T tokens against a panel packed in scratch.
template <int T>
void panel_tokens(const uint8_t* panel, int64_t nb, const QuantizedActs& x, int t0, float* y, int64_t ldy,
                  int valid) {
  const TokenTile<T> tile(x, t0);
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + size_t(b) * kPanelBlockBytes;
    __m512i wg[8];
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) wg[g] = _mm512_load_si512(pb + 64 * g);
    dot_block<T>(wg, _mm512_load_ps(pb + 512), tile, b, acc);
  }
  store_tile<T>(acc, y + int64_t(t0) * ldy, ldy, valid);
}

// T tokens (the whole call) against a panel packed on the fly, in registers.
template <bool kQ8, int T>
void panel_fused(const PanelRows& pr, int64_t nb, const QuantizedActs& x, float* y, int64_t ldy, int valid,
                 GroupPrefetcher& prefetch) {
  const TokenTile<T> tile(x, 0);
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    prefetch.advance();
    __m512i wg[8];
    __m512 dw;
    pack_block<kQ8>(pr, b, wg, &dw);
    dot_block<T>(wg, dw, tile, b, acc);
  }
  store_tile<T>(acc, y, ldy, valid);
}

template <bool kQ8>
void panel_fused_n(int tokens, const PanelRows& pr, int64_t nb, const QuantizedActs& x, float* y, int64_t ldy,
                   int valid, GroupPrefetcher& prefetch) {
  switch (tokens) {
    case 8: panel_fused<kQ8, 8>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 7: panel_fused<kQ8, 7>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 6: panel_fused<kQ8, 6>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 5: panel_fused<kQ8, 5>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 4: panel_fused<kQ8, 4>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 3: panel_fused<kQ8, 3>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 2: panel_fused<kQ8, 2>(pr, nb, x, y, ldy, valid, prefetch); return;
    case 1: panel_fused<kQ8, 1>(pr, nb, x, y, ldy, valid, prefetch); return;
    default: return;
  }
}

void panel_tokens_n(int tokens, const uint8_t* panel, int64_t nb, const QuantizedActs& x, int t0, float* y,
                    int64_t ldy, int valid) {
  switch (tokens) {
    case 8: panel_tokens<8>(panel, nb, x, t0, y, ldy, valid); return;
    case 7: panel_tokens<7>(panel, nb, x, t0, y, ldy, valid); return;
    case 6: panel_tokens<6>(panel, nb, x, t0, y, ldy, valid); return;
    case 5: panel_tokens<5>(panel, nb, x, t0, y, ldy, valid); return;
    case 4: panel_tokens<4>(panel, nb, x, t0, y, ldy, valid); return;
    case 3: panel_tokens<3>(panel, nb, x, t0, y, ldy, valid); return;
    case 2: panel_tokens<2>(panel, nb, x, t0, y, ldy, valid); return;
    case 1: panel_tokens<1>(panel, nb, x, t0, y, ldy, valid); return;
    default: return;
  }
}

template <bool kQ8>
void panels(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1, uint8_t* scratch) {
  const int64_t nb = w.cols / kQuantBlock;
  const size_t row_bytes = size_t(nb) * (kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const size_t panel_bytes = size_t(nb) * kPanelBlockBytes;
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t n_panels = (r1 - r0 + kPanelRows - 1) / kPanelRows;
  auto valid_rows = [&](int64_t p) { return int(std::min<int64_t>(r1 - r0 - p * kPanelRows, kPanelRows)); };
  auto rows_of = [&](int64_t p) { return base + (r0 + p * kPanelRows) * row_bytes; };
  // Prefetch the rows of panel p + 1 while panel p is read (not past the task:
  // another thread reads those).
  auto prefetcher_for = [&](int64_t p) {
    return p + 1 < n_panels ? GroupPrefetcher(rows_of(p + 1), size_t(valid_rows(p + 1)) * row_bytes, nb)
                            : GroupPrefetcher(nullptr, 0, nb);
  };
  if (x.n <= kPanelTokens) {
    // One token tile: pack each block in registers and use it right away.
    for (int64_t p = 0; p < n_panels; ++p) {
      GroupPrefetcher prefetch = prefetcher_for(p);
      const PanelRows pr(rows_of(p), row_bytes, valid_rows(p));
      panel_fused_n<kQ8>(x.n, pr, nb, x, y + r0 + p * kPanelRows, w.rows, valid_rows(p), prefetch);
    }
    return;
  }
  for (int64_t p = 0; p < n_panels; ++p) {
    GroupPrefetcher prefetch = prefetcher_for(p);
    pack_panel<kQ8>(PanelRows(rows_of(p), row_bytes, valid_rows(p)), nb, scratch + p * panel_bytes, prefetch);
  }
  // Each token tile's activations stay in L1 while it sweeps the panels (in L2).
  for (int t0 = 0; t0 < x.n; t0 += kPanelTokens) {
    const int tokens = std::min(x.n - t0, kPanelTokens);
    for (int64_t p = 0; p < n_panels; ++p)
      panel_tokens_n(tokens, scratch + p * panel_bytes, nb, x, t0, y + r0 + p * kPanelRows, w.rows, valid_rows(p));
  }
}

}  // namespace

void matmul_quant_avx512_vnni(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1,
                              uint8_t* scratch) {
  if (w.type == DType::kQ8_0) {
    // One Q8_0 token: the direct kernel streams the rows faster than packing them.
    if (x.n == 1) {
      direct_q8(w, x, y, r0, r1);
    } else {
      panels<true>(w, x, y, r0, r1, scratch);
    }
  } else {
    panels<false>(w, x, y, r0, r1, scratch);
  }
}

size_t matmul_quant_scratch_avx512_vnni(int64_t cols, int64_t rows) {
  const int64_t n_panels = (rows + kPanelRows - 1) / kPanelRows;
  return size_t(n_panels) * size_t(cols / kQuantBlock) * kPanelBlockBytes;
}

void fill_avx512_vnni_quant_kernels(CpuKernels& k) {
  k.quantize_acts = &quantize_acts_vnni;
  k.matmul_quant = &matmul_quant_avx512_vnni;
  k.matmul_quant_scratch = &matmul_quant_scratch_avx512_vnni;
}

}  // namespace llmos::cpu
