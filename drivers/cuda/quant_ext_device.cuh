// Device-side decoding of one element of a GGUF row of the block types beyond
// Q8_0/Q4_0 (Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4, Q1_0, Q2_0, Q2_K..Q6_K, IQ4_XS,
// IQ3_S, TQ1_0, TQ2_0), kept on the device in their GGUF layout. The same
// formulas as the host's common/quant_legacy.cpp, quant_lowbit.cpp and
// quant_kquants.cpp. Pure device functions; the IQ3_S grid is a per-file
// constant-memory copy of the host table.
#pragma once
#include <cuda_fp16.h>

#include <cstdint>

#include "device_util.cuh"
#include "llmos/common/dtype.hpp"
#include "llmos/common/iq3s_grid.hpp"

namespace llmos::cuda {

static __constant__ Iq3sGrid kIq3sGridDevice = kIq3sGrid;

__device__ __forceinline__ float ext_f16_at(const uint8_t* p) { return f16_bits_to_float(uint16_t(p[0] | (p[1] << 8))); }

// Q4_K/Q5_K scale and min of sub-block j from the 12 packed bytes.
__device__ __forceinline__ void ext_scale_min(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

__device__ __forceinline__ int ext_nibble32(const uint8_t* qs, int j) {  // element j of a 32-block
  return j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
}

// Element i (0 <= i < cols) of a row of `type` in GGUF layout.
__device__ inline float ext_dequant(int type, const uint8_t* row, int64_t i) {
  constexpr int8_t kIq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  constexpr int8_t kFp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  switch (type) {
    case int(DType::kQ4_1): {
      const uint8_t* b = row + (i / 32) * 20;
      return ext_f16_at(b) * float(ext_nibble32(b + 4, int(i % 32))) + ext_f16_at(b + 2);
    }
    case int(DType::kQ5_0):
    case int(DType::kQ5_1): {
      const bool q51 = type == int(DType::kQ5_1);
      const uint8_t* b = row + (i / 32) * (q51 ? 24 : 22);
      const uint8_t* qh = b + (q51 ? 4 : 2);
      const int j = int(i % 32);
      const int hb = (qh[j / 8] >> (j % 8)) & 1;
      const int q = ext_nibble32(b + (q51 ? 8 : 6), j) | (hb << 4);
      return q51 ? ext_f16_at(b) * float(q) + ext_f16_at(b + 2) : ext_f16_at(b) * float(q - 16);
    }
    case int(DType::kIQ4_NL): {
      const uint8_t* b = row + (i / 32) * 18;
      return ext_f16_at(b) * float(kIq4[ext_nibble32(b + 2, int(i % 32))]);
    }
    case int(DType::kMXFP4): {
      const uint8_t* b = row + (i / 32) * 17;
      return ldexpf(1.0f, int(b[0]) - 128) * float(kFp4[ext_nibble32(b + 1, int(i % 32))]);
    }
    case int(DType::kQ1_0): {
      const uint8_t* b = row + (i / 128) * 18;
      const int j = int(i % 128);
      return (b[2 + j / 8] >> (j % 8)) & 1 ? ext_f16_at(b) : -ext_f16_at(b);
    }
    case int(DType::kQ2_0): {
      const uint8_t* b = row + (i / 64) * 18;
      const int j = int(i % 64);
      return float(int((b[2 + j / 4] >> (2 * (j % 4))) & 3) - 1) * ext_f16_at(b);
    }
    default: break;
  }
  const int k = int(i % 256), half = k / 128, j = (k % 128) / 32, l = k % 32;
  switch (type) {
    case int(DType::kQ2_K): {
      const uint8_t* b = row + (i / 256) * 84;
      const int q = (b[16 + half * 32 + l] >> (2 * j)) & 3;
      const uint8_t s = b[k / 16];
      return ext_f16_at(b + 80) * float(s & 0x0f) * float(q) - ext_f16_at(b + 82) * float(s >> 4);
    }
    case int(DType::kQ3_K): {
      const uint8_t* b = row + (i / 256) * 110;
      const int lo = (b[32 + half * 32 + l] >> (2 * j)) & 3;
      const int q = lo - (((b[l] >> (half * 4 + j)) & 1) ? 0 : 4);
      const int g = k / 16;
      const uint8_t* s = b + 96;
      const int sl = g < 8 ? (s[g] & 0x0f) : (s[g - 8] >> 4);
      const int sh = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
      return ext_f16_at(b + 108) * float((sl | (sh << 4)) - 32) * float(q);
    }
    case int(DType::kQ4_K):
    case int(DType::kQ5_K): {
      const bool q5 = type == int(DType::kQ5_K);
      const uint8_t* b = row + (i / 256) * (q5 ? 176 : 144);
      const int s = k / 32;
      int sc, m;
      ext_scale_min(s, b + 4, sc, m);
      const uint8_t byte = b[(q5 ? 48 : 16) + (s / 2) * 32 + l];
      int v = s % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
      if (q5) v |= ((b[16 + l] >> s) & 1) << 4;
      return ext_f16_at(b) * float(sc) * float(v) - ext_f16_at(b + 2) * float(m);
    }
    case int(DType::kQ6_K): {
      const uint8_t* b = row + (i / 256) * 210;
      const uint8_t lb = b[64 * half + 32 * (j % 2) + l];
      const int lo = j < 2 ? (lb & 0x0f) : (lb >> 4);
      const int hi = (b[128 + 32 * half + l] >> (2 * j)) & 3;
      return ext_f16_at(b + 208) * float(int8_t(b[192 + k / 16])) * float((lo | (hi << 4)) - 32);
    }
    case int(DType::kIQ4_XS): {
      const uint8_t* b = row + (i / 256) * 136;
      const int s = k / 32, e = k % 32;
      const int sh = b[2] | (b[3] << 8);
      const int ls = ((b[4 + s / 2] >> (4 * (s % 2))) & 0x0f) | (((sh >> (2 * s)) & 3) << 4);
      return ext_f16_at(b) * float(ls - 32) * float(kIq4[ext_nibble32(b + 8 + 16 * s, e)]);
    }
    case int(DType::kIQ3_S): {
      const uint8_t* b = row + (i / 256) * 110;
      const int g = k / 4, s = k / 32;
      const int point = b[2 + g] | (((b[66 + g / 8] >> (g % 8)) & 1) << 8);
      const int mag = int((kIq3sGridDevice.points[point] >> (8 * (k % 4))) & 0xff);
      const float dl = ext_f16_at(b) * float(1 + 2 * ((b[106 + s / 2] >> (4 * (s % 2))) & 0x0f));
      return (b[74 + k / 8] >> (k % 8)) & 1 ? -dl * float(mag) : dl * float(mag);
    }
    case int(DType::kTQ1_0): {
      const uint8_t* b = row + (i / 256) * 54;
      constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
      uint8_t byte;
      int n;
      if (k < 160) {
        byte = b[k % 32], n = k / 32;
      } else if (k < 240) {
        byte = b[32 + (k - 160) % 16], n = (k - 160) / 16;
      } else {
        byte = b[48 + (k - 240) % 4], n = (k - 240) / 4;
      }
      const auto q = uint8_t(unsigned(byte) * kPow3[n]);
      return float(int((unsigned(q) * 3) >> 8) - 1) * ext_f16_at(b + 52);
    }
    case int(DType::kTQ2_0): {
      const uint8_t* b = row + (i / 256) * 66;
      const int q = (b[32 * half + l] >> (2 * j)) & 3;
      return float(q - 1) * ext_f16_at(b + 64);
    }
    default: return 0.0f;
  }
}

}  // namespace llmos::cuda
