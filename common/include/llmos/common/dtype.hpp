// Element types of weights, KV cache and activations, with GGML's numbering
// (the values stored in GGUF tensor infos) and the quantized block layouts.
// Pure data and constexpr helpers: thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmos {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ4_XS = 23,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
  kQ1_0 = 41,
  kQ2_0 = 42,
};

inline constexpr int kQuantBlock = 32;    // elements per legacy block (Q8_0, Q4_0, Q4_1, Q5_x, IQ4_NL, MXFP4)
inline constexpr int kSuperBlock = 256;   // elements per K-quant / IQ4_XS / IQ3_S / TQ super-block
inline constexpr int kQ1_0Block = 128;    // elements per Q1_0 block
inline constexpr int kQ2_0Block = 64;     // elements per Q2_0 block

// ---- 32-element blocks. "f16" fields hold IEEE half bits. -------------------

// Q8_0: 32 int8 values sharing one f16 scale: x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // f16 bits
  int8_t qs[kQuantBlock];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: 32 4-bit values sharing one f16 scale. Byte j holds element j in its
// low nibble and element j + 16 in its high nibble: x = d * (nibble - 8).
struct BlockQ4_0 {
  uint16_t d;  // f16 bits
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: nibbles as Q4_0, x = d * nibble + m.
struct BlockQ4_1 {
  uint16_t d, m;  // f16 bits
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: nibbles as Q4_0 plus a fifth bit per element (bit i of the little-endian
// 32-bit qh for element i): x = d * (q5 - 16).
struct BlockQ5_0 {
  uint16_t d;  // f16 bits
  uint8_t qh[4];
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: bits as Q5_0, x = d * q5 + m.
struct BlockQ5_1 {
  uint16_t d, m;  // f16 bits
  uint8_t qh[4];
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// IQ4_NL: nibbles as Q4_0 index a fixed non-linear table: x = d * kIq4nlValues[nibble].
struct BlockIQ4_NL {
  uint16_t d;  // f16 bits
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18);
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// MXFP4: an E8M0 exponent e shared by 32 FP4 (E2M1) values, nibbles as Q4_0:
// x = 2^(e - 128) * kMxfp4Values[nibble] (the table holds the E2M1 values doubled).
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockMXFP4) == 17);
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ---- 128- and 64-element blocks ----------------------------------------------

// Q1_0: one sign bit per element (bit j % 8 of qs[j / 8]): x = bit ? d : -d.
struct BlockQ1_0 {
  uint16_t d;  // f16 bits
  uint8_t qs[kQ1_0Block / 8];
};
static_assert(sizeof(BlockQ1_0) == 18);

// Q2_0: 2-bit codes q (bits 2*(j % 4) of qs[j / 4]): x = d * (q - 1), so {-1, 0, 1, 2} * d.
struct BlockQ2_0 {
  uint16_t d;  // f16 bits
  uint8_t qs[kQ2_0Block / 4];
};
static_assert(sizeof(BlockQ2_0) == 18);

// ---- 256-element super-blocks ------------------------------------------------

// Q2_K: 16 sub-blocks of 16; scales[i] = scale (low nibble) and min (high
// nibble) of sub-block i; x = d * scale * q2 - dmin * min. Each 128-element half
// takes 32 bytes of qs; element 32*j + l of the half is bits 2j..2j+1 of byte l.
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[kSuperBlock / 4];
  uint16_t d, dmin;  // f16 bits
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 2 low bits as Q2_K, the third bit in hmask (bit h*4+j of byte l for
// element 128h + 32j + l; a clear bit subtracts 4), 16 signed 6-bit scales
// (stored +32) packed in 12 bytes: x = d * (scale - 32) * (q3 - 4).
struct BlockQ3_K {
  uint8_t hmask[kSuperBlock / 8];
  uint8_t qs[kSuperBlock / 4];
  uint8_t scales[12];
  uint16_t d;  // f16 bits
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes;
// each 64 elements take 32 bytes of qs, low nibbles first: x = d*sc*q - dmin*m.
struct BlockQ4_K {
  uint16_t d, dmin;  // f16 bits
  uint8_t scales[12];
  uint8_t qs[kSuperBlock / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: Q4_K plus a fifth bit (bit 2k / 2k+1 of qh[l] for the low / high
// nibbles of the k-th 64 elements).
struct BlockQ5_K {
  uint16_t d, dmin;  // f16 bits
  uint8_t scales[12];
  uint8_t qh[kSuperBlock / 8];
  uint8_t qs[kSuperBlock / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16 with int8 scales; 4 low bits in ql, 2 high in qh:
// x = d * scale * (q6 - 32).
struct BlockQ6_K {
  uint8_t ql[kSuperBlock / 2];
  uint8_t qh[kSuperBlock / 4];
  int8_t scales[16];
  uint16_t d;  // f16 bits
};
static_assert(sizeof(BlockQ6_K) == 210);

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales (low 4 bits in scales_l, high 2
// in scales_h), nibbles as IQ4_NL per sub-block: x = d * (ls - 32) * kIq4nlValues[q].
struct BlockIQ4_XS {
  uint16_t d;  // f16 bits
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[kSuperBlock / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// IQ3_S: 8 sub-blocks of 32, each of 8 groups of 4 elements. Group g (0..63)
// takes grid point qs[g] | (bit g % 8 of qh[g / 8]) << 8 of kIq3sGrid
// (iq3s_grid.hpp): four odd magnitudes 1..15. Bit j % 8 of signs[j / 8] negates
// element j. Sub-block s has the 4-bit scale (scales[s / 2] >> 4 * (s % 2)) & 15:
// x = d * (1 + 2 * scale) * magnitude * sign.
struct BlockIQ3_S {
  uint16_t d;  // f16 bits
  uint8_t qs[kSuperBlock / 4];
  uint8_t qh[kSuperBlock / 32];
  uint8_t signs[kSuperBlock / 8];
  uint8_t scales[kSuperBlock / 64];
};
static_assert(sizeof(BlockIQ3_S) == 110);

// TQ1_0: ternary {-1, 0, 1} * d, five trits per byte (base 3, fixed point) in
// qs and four per byte in qh.
struct BlockTQ1_0 {
  uint8_t qs[(kSuperBlock - 4 * kSuperBlock / 64) / 5];
  uint8_t qh[kSuperBlock / 64];
  uint16_t d;  // f16 bits
};
static_assert(sizeof(BlockTQ1_0) == 54);

// TQ2_0: ternary as 2-bit codes q in {0, 1, 2}: x = d * (q - 1).
struct BlockTQ2_0 {
  uint8_t qs[kSuperBlock / 4];
  uint16_t d;  // f16 bits
};
static_assert(sizeof(BlockTQ2_0) == 66);

// Elements per storage block (1 for plain floats).
constexpr int64_t dtype_block_elems(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: return 1;
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ8_0:
    case DType::kIQ4_NL:
    case DType::kMXFP4: return kQuantBlock;
    case DType::kQ1_0: return kQ1_0Block;
    case DType::kQ2_0: return kQ2_0Block;
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kIQ4_XS:
    case DType::kIQ3_S:
    case DType::kTQ1_0:
    case DType::kTQ2_0: return kSuperBlock;
  }
  return 1;
}
// Bytes per storage block.
constexpr int64_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kQ8_0: return sizeof(BlockQ8_0);
    case DType::kQ4_0: return sizeof(BlockQ4_0);
    case DType::kQ4_1: return sizeof(BlockQ4_1);
    case DType::kQ5_0: return sizeof(BlockQ5_0);
    case DType::kQ5_1: return sizeof(BlockQ5_1);
    case DType::kIQ4_NL: return sizeof(BlockIQ4_NL);
    case DType::kMXFP4: return sizeof(BlockMXFP4);
    case DType::kQ2_K: return sizeof(BlockQ2_K);
    case DType::kQ3_K: return sizeof(BlockQ3_K);
    case DType::kQ4_K: return sizeof(BlockQ4_K);
    case DType::kQ5_K: return sizeof(BlockQ5_K);
    case DType::kQ6_K: return sizeof(BlockQ6_K);
    case DType::kIQ4_XS: return sizeof(BlockIQ4_XS);
    case DType::kIQ3_S: return sizeof(BlockIQ3_S);
    case DType::kQ1_0: return sizeof(BlockQ1_0);
    case DType::kQ2_0: return sizeof(BlockQ2_0);
    case DType::kTQ1_0: return sizeof(BlockTQ1_0);
    case DType::kTQ2_0: return sizeof(BlockTQ2_0);
  }
  return 0;
}
// Bytes of one row of `n` elements; REQUIRES: n is a multiple of dtype_block_elems(t).
constexpr int64_t dtype_row_bytes(DType t, int64_t n) {
  return n / dtype_block_elems(t) * dtype_block_bytes(t);
}
// True for the block-quantized types (everything but F32, F16, BF16).
constexpr bool dtype_is_quantized(DType t) { return dtype_block_elems(t) > 1; }

// The DType for a GGML type id, or nullopt when llmos does not support it.
constexpr std::optional<DType> dtype_from_ggml(uint32_t id) {
  switch (id) {
    case 0: case 1: case 2: case 3: case 6: case 7: case 8: case 10: case 11: case 12:
    case 13: case 14: case 20: case 21: case 23: case 30: case 34: case 35: case 39: case 41: case 42:
      return DType(id);
    default: return std::nullopt;
  }
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8_0: return "q8_0";
    case DType::kQ4_0: return "q4_0";
    case DType::kQ4_1: return "q4_1";
    case DType::kQ5_0: return "q5_0";
    case DType::kQ5_1: return "q5_1";
    case DType::kQ2_K: return "q2_k";
    case DType::kQ3_K: return "q3_k";
    case DType::kQ4_K: return "q4_k";
    case DType::kQ5_K: return "q5_k";
    case DType::kQ6_K: return "q6_k";
    case DType::kIQ4_NL: return "iq4_nl";
    case DType::kIQ4_XS: return "iq4_xs";
    case DType::kTQ1_0: return "tq1_0";
    case DType::kTQ2_0: return "tq2_0";
    case DType::kMXFP4: return "mxfp4";
    case DType::kIQ3_S: return "iq3_s";
    case DType::kQ1_0: return "q1_0";
    case DType::kQ2_0: return "q2_0";
  }
  return "?";
}

// The name GGML gives a type id (for error messages about types we lack).
std::string_view ggml_type_name(uint32_t id);

}  // namespace llmos
