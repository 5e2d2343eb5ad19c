// Seeded random weight rows of the block types llmos has no quantizer for yet
// (K-quants, Q4_1, Q5_x, IQ4, IQ3_S, MXFP4, TQ, Q1_0, Q2_0): random bytes with the scale fields set
// to small f16 values (MXFP4: exponents near 2^-6), so every block decodes to
// finite weights of the type's natural range. Test-only; stateless.
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "llmos/common/dtype.hpp"
#include "llmos/common/fp16.hpp"

namespace llmos::driver::testing {

// Byte offsets of the f16 scale fields in one block of `t`.
inline std::vector<int> block_f16_fields(DType t) {
  switch (t) {
    case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ5_0: case DType::kIQ4_NL: case DType::kIQ4_XS: case DType::kQ4_0: case DType::kQ8_0: return {0};
    case DType::kIQ3_S: case DType::kQ1_0: case DType::kQ2_0: return {0};
    case DType::kQ2_K: return {80, 82};
    case DType::kQ3_K: return {108};
    case DType::kQ6_K: return {208};
    case DType::kTQ1_0: return {52};
    case DType::kTQ2_0: return {64};
    default: return {};
  }
}

// rows x cols of `type` (cols a multiple of its block), GGUF layout.
inline std::vector<uint8_t> random_blocks(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t nblocks = rows * cols / dtype_block_elems(type);
  const size_t bb = size_t(dtype_block_bytes(type));
  std::vector<uint8_t> bytes(size_t(nblocks) * bb);
  for (auto& b : bytes) b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (int64_t k = 0; k < nblocks; ++k) {
    uint8_t* blk = bytes.data() + size_t(k) * bb;
    for (int off : block_f16_fields(type)) {
      const uint16_t v = f32_to_f16(scale(rng));
      std::memcpy(blk + off, &v, 2);
    }
    if (type == DType::kMXFP4) blk[0] = uint8_t(118 + rng() % 8);
  }
  return bytes;
}

}  // namespace llmos::driver::testing
