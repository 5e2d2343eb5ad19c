// 8x8 transpose of 32-bit words in AVX2 registers, for the kernels that put
// eight weight rows in the eight lanes of a vector (quant_avx2.cpp's Q8_0
// tiles). Header-only; include only from files compiled with -mavx2.
#pragma once

#include <immintrin.h>

namespace llmos::cpu {

// in[i] holds row i's words 0-7; out[k] gets word k of rows 0-7, row i in lane i.
inline void transpose8x8_epi32(const __m256i in[8], __m256i out[8]) {
  __m256i a[8], c[8];
  for (int i = 0; i < 4; ++i) {
    a[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    a[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 4h..4h+3: words 0|4, 1|5, 2|6, 3|7 (low | high lane)
    c[4 * h + 0] = _mm256_unpacklo_epi64(a[4 * h], a[4 * h + 2]);
    c[4 * h + 1] = _mm256_unpackhi_epi64(a[4 * h], a[4 * h + 2]);
    c[4 * h + 2] = _mm256_unpacklo_epi64(a[4 * h + 1], a[4 * h + 3]);
    c[4 * h + 3] = _mm256_unpackhi_epi64(a[4 * h + 1], a[4 * h + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    out[k] = _mm256_permute2x128_si256(c[k], c[4 + k], 0x20);
    out[k + 4] = _mm256_permute2x128_si256(c[k], c[4 + k], 0x31);
  }
}

}  // namespace llmos::cpu
