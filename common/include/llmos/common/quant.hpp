// Scalar reference conversions for every weight type: quantize f32 rows to
// Q8_0/Q4_0/F16/BF16 and turn a row of any type (every DType) back into f32. These are the plain,
// obviously-correct versions the SIMD kernels are tested against and the model
// writer uses. Pure functions: thread-safe.
#pragma once
#include <cstdint>

#include "llmos/common/dtype.hpp"

namespace llmos {

// REQUIRES: n is a multiple of kQuantBlock.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
// REQUIRES: n is a multiple of kQuantBlock.
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);

// Writes n elements of `type` from x into `dst` (dtype_row_bytes(type, n) bytes).
// REQUIRES: type is F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K to
// Q6_K or IQ4_XS (no quantizer for MXFP4, TQ1_0, TQ2_0) and n is a multiple of
// dtype_block_elems(type).
void quantize_row(DType type, const float* x, void* dst, int64_t n);
// Reads n elements of `type` from `src` into y as f32.
void dequantize_row(DType type, const void* src, float* y, int64_t n);

}  // namespace llmos
