// Unpacking of the packed 6-bit sub-block scales of the K-quant super-blocks
// (Q3_K's 16 signed scales, Q4_K/Q5_K's 8 scale/min pairs), shared by the
// dequantizers and the CPU dot-product kernels. Pure inline functions: thread-safe.
#pragma once
#include <cstdint>

namespace llmos {

// Q4_K / Q5_K: scale and min of sub-block j (0..7) from the 12 packed bytes.
// Sub-blocks 0-3 keep 6 bits in bytes j and j+4; 4-7 put their low 4 bits in
// byte j+4 and their top 2 bits in the top bits of bytes j-4 and j.
inline void kquant_scale_min(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = uint8_t(q[j] & 63);
    m = uint8_t(q[j + 4] & 63);
  } else {
    sc = uint8_t((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q3_K: the 16 scales, each a 6-bit value minus 32. Low 4 bits: nibble of
// byte j % 8 (low nibble for j < 8); top 2 bits: bits 2*(j/4) of byte 8 + j % 4.
inline void q3k_scales(const uint8_t* s, int8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = int8_t((lo | (hi << 4)) - 32);
  }
}

}  // namespace llmos
