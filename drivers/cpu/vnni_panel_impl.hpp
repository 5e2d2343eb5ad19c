// The 16-row weight panels shared by the AVX-512 VNNI and AMX integer kernels:
// Q8_0/Q4_0 blocks of 16 rows transposed so that lane = row and each lane holds
// 4 consecutive K bytes (the operand layout of vpdpbusd and of an AMX B tile),
// plus the software prefetcher that streams the next rows into L2. Internal
// linkage; include only from files compiled with AVX-512 flags.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels.hpp"

namespace llmos::cpu {
namespace {

constexpr int kPanelRows = 16;
// Per block of a panel: 8 groups x 16 rows x 4 bytes of weights, then 16 f32 scales.
constexpr size_t kPanelBlockBytes = 8 * 64 + 64;

// Software prefetch of the weights. The kernels read 4 or 16 rows side by
// side, which the L2 streamer (one stream per 4 KiB page) follows poorly, and
// spend enough instructions per cache line that the out-of-order window keeps
// too few DRAM misses in flight. So while a group of rows is consumed block by
// block, the next group (contiguous in memory) is prefetched at the same pace.
class GroupPrefetcher {
 public:
  // next: the next group's first byte (nullptr: none); bytes: its size; steps:
  // how many advance() calls consume the current group.
  GroupPrefetcher(const uint8_t* next, size_t bytes, int64_t steps)
      : next_(next), end_(next ? bytes : 0), per_step_(steps > 0 ? (bytes + size_t(steps) - 1) / size_t(steps) : bytes) {}
  void advance() {
    const size_t to = done_ + per_step_ < end_ ? done_ + per_step_ : end_;
    for (; line_ < to; line_ += 64) _mm_prefetch(reinterpret_cast<const char*>(next_ + line_), _MM_HINT_T1);
    done_ = to;
  }

 private:
  const uint8_t* next_;
  size_t end_;
  size_t per_step_;
  size_t done_ = 0;
  size_t line_ = 0;
};

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

inline __m512i xor_sign(__m512i v) { return _mm512_xor_si512(v, _mm512_set1_epi8(char(0x80))); }

// Transposes 16 rows x 8 dwords (Z[i]: row i in the low half, row i + 8 in the
// high half) into out[g] = dword g of rows 0..15.
inline void transpose_16x8(const __m512i z[8], __m512i out[8]) {
  __m512i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int g = 0; g < 4; ++g) {
    out[g] = _mm512_permutex2var_epi64(u[g], lo, u[g + 4]);
    out[g + 4] = _mm512_permutex2var_epi64(u[g], hi, u[g + 4]);
  }
}

// The 16 rows of a panel (rows at or past `valid` repeat the last valid one).
struct PanelRows {
  const uint8_t* base;
  const uint8_t* rows[kPanelRows];
  __m512i scale_offsets;  // byte offset of each row, for gathering the block scales

  PanelRows(const uint8_t* w, size_t row_bytes, int valid) : base(w) {
    int32_t offs[kPanelRows];
    for (int i = 0; i < kPanelRows; ++i) {
      const int r = i < valid ? i : valid - 1;
      rows[i] = w + size_t(r) * row_bytes;
      offs[i] = int32_t(size_t(r) * row_bytes);
    }
    scale_offsets = _mm512_loadu_si512(offs);
  }
};

// Block b of a panel in the VNNI layout: out[g] lane i = bytes 4g .. 4g+3 of
// row i's 32 weights, as unsigned bytes (Q8_0 xor 0x80, Q4_0 raw nibbles: for
// vpdpbusd) or, with kSigned, as they are (Q4_0 nibbles - 8: for tdpbssd);
// dw lane i = row i's scale.
template <bool kQ8, bool kSigned = false>
inline void pack_block(const PanelRows& pr, int64_t b, __m512i out[8], __m512* dw) {
  constexpr size_t kBB = kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
  // The f16 scale is the first 2 bytes of each block; a dword read stays in the block.
  const __m512i dd = _mm512_i32gather_epi32(pr.scale_offsets, pr.base + b * kBB, 1);
  *dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dd));
  const size_t at = size_t(b) * kBB + 2;
  if constexpr (kQ8) {
    __m512i z[8];  // rows i and i + 8
    for (int i = 0; i < 8; ++i) {
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pr.rows[i] + at));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pr.rows[i + 8] + at));
      z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    transpose_16x8(z, out);
    if constexpr (!kSigned)
      for (int g = 0; g < 8; ++g) out[g] = xor_sign(out[g]);
  } else {
    __m512i z[4];  // z[e]: rows e, 4 + e, 8 + e, 12 + e in its four 128-bit lanes
    for (int e = 0; e < 4; ++e) {
      __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pr.rows[e] + at)));
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(pr.rows[4 + e] + at)), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(pr.rows[8 + e] + at)), 2);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(pr.rows[12 + e] + at)), 3);
      z[e] = v;
    }
    const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    const __m512i g[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    for (int j = 0; j < 4; ++j) {
      out[j] = _mm512_and_si512(g[j], low4);                            // elements 4j .. 4j+3
      out[j + 4] = _mm512_and_si512(_mm512_srli_epi16(g[j], 4), low4);  // elements 16+4j ..
    }
    if constexpr (kSigned)
      for (int j = 0; j < 8; ++j) out[j] = _mm512_sub_epi8(out[j], _mm512_set1_epi8(8));
  }
}

// Repacks a whole panel into scratch, prefetching the next group meanwhile.
template <bool kQ8, bool kSigned = false>
void pack_panel(const PanelRows& pr, int64_t nb, uint8_t* panel, GroupPrefetcher& prefetch) {
  for (int64_t b = 0; b < nb; ++b) {
    prefetch.advance();
    uint8_t* dst = panel + size_t(b) * kPanelBlockBytes;
    __m512i out[8];
    __m512 dw;
    pack_block<kQ8, kSigned>(pr, b, out, &dw);
    for (int i = 0; i < 8; ++i) _mm512_store_si512(dst + 64 * i, out[i]);
    _mm512_store_ps(dst + 512, dw);
  }
}

}  // namespace
}  // namespace llmos::cpu
