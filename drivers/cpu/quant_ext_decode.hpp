// Decoding of one weight block of the types beyond Q8_0/Q4_0 into small signed
// integers and integer scales, the form the integer dot products work on:
//  - 32-element types (Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4) and each 32 elements
//    of a Q1_0 / Q2_0 block: w = d * q + m;
//  - 256-element types (Q2_K..Q6_K, IQ4_XS, IQ3_S, TQ1_0, TQ2_0), 16 groups of 16:
//    w = d * sc[g] * q - dmin * mn[g].
// The scalar reference kernels (quant_ext_scalar.cpp) and the generic SIMD path
// use these; inline and pure (thread-safe); blocks are read through memcpy.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "llmos/common/dtype.hpp"
#include "llmos/common/fp16.hpp"
#include "llmos/common/iq3s_grid.hpp"
#include "llmos/common/kquant_scales.hpp"

namespace llmos::cpu {

struct Decoded32 {
  int8_t q[kQuantBlock];
  float d, m;
};

struct Decoded256 {
  int8_t q[kSuperBlock];
  int16_t sc[16];
  int16_t mn[16];  // all zero for the types without mins
  float d, dmin;
};

inline bool is_super_block_type(DType t) { return dtype_block_elems(t) == kSuperBlock; }

// Elements [32 * b, 32 * b + 32) of a Q1_0 row (q = -1 or 1) or a Q2_0 row
// (q = code - 1, -1..2).
inline void decode_lowbit32(DType type, const uint8_t* row, int64_t b, Decoded32& out) {
  const int64_t per_block = dtype_block_elems(type) / kQuantBlock;
  const uint8_t* p = row + (b / per_block) * dtype_block_bytes(type);
  const int first = int(b % per_block) * kQuantBlock;
  uint16_t h;
  std::memcpy(&h, p, 2);
  out.d = f16_to_f32(h);
  out.m = 0.0f;
  const uint8_t* qs = p + 2;
  for (int i = 0; i < kQuantBlock; ++i) {
    const int j = first + i;
    out.q[i] = type == DType::kQ1_0 ? int8_t((qs[j / 8] >> (j % 8)) & 1 ? 1 : -1)
                                    : int8_t(((qs[j / 4] >> (2 * (j % 4))) & 3) - 1);
  }
}

// Block `b` of a row of `type` (a 32-element ext type); for Q1_0 and Q2_0, the
// b-th 32 elements of the row.
inline void decode_block32(DType type, const uint8_t* row, int64_t b, Decoded32& out) {
  if (type == DType::kQ1_0 || type == DType::kQ2_0) return decode_lowbit32(type, row, b, out);
  const uint8_t* p = row + b * dtype_block_bytes(type);
  uint16_t h[2];
  std::memcpy(h, p, 4);
  auto nibbles = [&](const uint8_t* qs, auto&& map) {
    for (int j = 0; j < 16; ++j) {
      out.q[j] = int8_t(map(qs[j] & 0x0f, j));
      out.q[j + 16] = int8_t(map(qs[j] >> 4, j + 16));
    }
  };
  out.m = 0.0f;
  switch (type) {
    case DType::kQ4_1:
      out.d = f16_to_f32(h[0]);
      out.m = f16_to_f32(h[1]);
      nibbles(p + 4, [](int v, int) { return v; });
      return;
    case DType::kQ5_0:
    case DType::kQ5_1: {
      const bool q51 = type == DType::kQ5_1;
      uint32_t qh;
      std::memcpy(&qh, p + (q51 ? 4 : 2), 4);
      out.d = f16_to_f32(h[0]);
      if (q51) out.m = f16_to_f32(h[1]);
      const int off = q51 ? 0 : 16;
      nibbles(p + (q51 ? 8 : 6), [&](int v, int i) { return (v | int((qh >> i) & 1) << 4) - off; });
      return;
    }
    case DType::kIQ4_NL:
      out.d = f16_to_f32(h[0]);
      nibbles(p + 2, [](int v, int) { return kIq4nlValues[v]; });
      return;
    case DType::kMXFP4:
      out.d = std::ldexp(1.0f, int(p[0]) - 128);
      nibbles(p + 1, [](int v, int) { return kMxfp4Values[v]; });
      return;
    default: std::memset(&out, 0, sizeof out); return;
  }
}

// Super-block `b` of a row of `type` (a 256-element type).
inline void decode_block256(DType type, const uint8_t* row, int64_t b, Decoded256& out) {
  const uint8_t* p = row + b * dtype_block_bytes(type);
  auto f16_at = [&](size_t off) {
    uint16_t h;
    std::memcpy(&h, p + off, 2);
    return f16_to_f32(h);
  };
  out.dmin = 0.0f;
  for (int g = 0; g < 16; ++g) out.mn[g] = 0;
  switch (type) {
    case DType::kQ2_K: {
      const uint8_t* qs = p + 16;
      out.d = f16_at(80), out.dmin = f16_at(82);
      for (int g = 0; g < 16; ++g) out.sc[g] = int16_t(p[g] & 0x0f), out.mn[g] = int16_t(p[g] >> 4);
      for (int i = 0; i < kSuperBlock; ++i)
        out.q[i] = int8_t((qs[(i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 3);
      return;
    }
    case DType::kQ3_K: {
      const uint8_t *hm = p, *qs = p + 32;
      out.d = f16_at(108);
      int8_t sc[16];
      q3k_scales(p + 96, sc);
      for (int g = 0; g < 16; ++g) out.sc[g] = sc[g];
      for (int i = 0; i < kSuperBlock; ++i) {
        const int half = i / 128, j = (i % 128) / 32, l = i % 32;
        const int lo = (qs[half * 32 + l] >> (2 * j)) & 3;
        out.q[i] = int8_t(lo - (((hm[l] >> (half * 4 + j)) & 1) ? 0 : 4));
      }
      return;
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool q5 = type == DType::kQ5_K;
      const uint8_t* qh = p + 16;
      const uint8_t* qs = p + (q5 ? 48 : 16);
      out.d = f16_at(0), out.dmin = f16_at(2);
      for (int s = 0; s < 8; ++s) {
        uint8_t sc, m;
        kquant_scale_min(s, p + 4, sc, m);
        out.sc[2 * s] = out.sc[2 * s + 1] = sc;
        out.mn[2 * s] = out.mn[2 * s + 1] = m;
        for (int l = 0; l < 32; ++l) {
          const uint8_t byte = qs[(s / 2) * 32 + l];
          int v = s % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
          if (q5) v |= ((qh[l] >> s) & 1) << 4;
          out.q[s * 32 + l] = int8_t(v);
        }
      }
      return;
    }
    case DType::kQ6_K: {
      const uint8_t *ql = p, *qh = p + 128;
      out.d = f16_at(208);
      for (int g = 0; g < 16; ++g) out.sc[g] = int8_t(p[192 + g]);
      for (int i = 0; i < kSuperBlock; ++i) {
        const int h = i / 128, j = (i % 128) / 32, l = i % 32;
        const uint8_t lb = ql[64 * h + 32 * (j % 2) + l];
        const int lo = j < 2 ? (lb & 0x0f) : (lb >> 4);
        const int hi = (qh[32 * h + l] >> (2 * j)) & 3;
        out.q[i] = int8_t((lo | (hi << 4)) - 32);
      }
      return;
    }
    case DType::kIQ4_XS: {
      uint16_t sh;
      std::memcpy(&sh, p + 2, 2);
      out.d = f16_at(0);
      for (int s = 0; s < 8; ++s) {
        const int ls = ((p[4 + s / 2] >> (4 * (s % 2))) & 0x0f) | (((sh >> (2 * s)) & 3) << 4);
        out.sc[2 * s] = out.sc[2 * s + 1] = int16_t(ls - 32);
        const uint8_t* qs = p + 8 + s * 16;
        for (int j = 0; j < 16; ++j) {
          out.q[s * 32 + j] = kIq4nlValues[qs[j] & 0x0f];
          out.q[s * 32 + j + 16] = kIq4nlValues[qs[j] >> 4];
        }
      }
      return;
    }
    case DType::kIQ3_S: {
      const uint8_t *qs = p + 2, *qh = p + 66, *signs = p + 74, *scales = p + 106;
      out.d = f16_at(0);
      for (int s = 0; s < 8; ++s)
        out.sc[2 * s] = out.sc[2 * s + 1] = int16_t(1 + 2 * ((scales[s / 2] >> (4 * (s % 2))) & 0x0f));
      for (int g = 0; g < kSuperBlock / 4; ++g) {
        const int point = qs[g] | (((qh[g / 8] >> (g % 8)) & 1) << 8);
        for (int j = 0; j < 4; ++j) {
          const int e = 4 * g + j, mag = iq3s_magnitude(point, j);
          out.q[e] = int8_t((signs[e / 8] >> (e % 8)) & 1 ? -mag : mag);
        }
      }
      return;
    }
    case DType::kTQ1_0: {
      static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
      auto trit = [](uint8_t byte, int n) {
        const auto q = uint8_t(unsigned(byte) * kPow3[n]);
        return int8_t(int((unsigned(q) * 3) >> 8) - 1);
      };
      out.d = f16_at(52);
      for (int g = 0; g < 16; ++g) out.sc[g] = 1;
      int i = 0;
      for (int n = 0; n < 5; ++n)
        for (int m = 0; m < 32; ++m) out.q[i++] = trit(p[m], n);
      for (int n = 0; n < 5; ++n)
        for (int m = 0; m < 16; ++m) out.q[i++] = trit(p[32 + m], n);
      for (int n = 0; n < 4; ++n)
        for (int m = 0; m < 4; ++m) out.q[i++] = trit(p[48 + m], n);
      return;
    }
    case DType::kTQ2_0: {
      out.d = f16_at(64);
      for (int g = 0; g < 16; ++g) out.sc[g] = 1;
      for (int i = 0; i < kSuperBlock; ++i)
        out.q[i] = int8_t(((p[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3) - 1);
      return;
    }
    default: std::memset(&out, 0, sizeof out); return;
  }
}

}  // namespace llmos::cpu
