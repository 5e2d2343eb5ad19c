// Per-type scalar dequantizers behind llmos::dequantize_row (quant.cpp), one
// file per family: quant_legacy.cpp (32-element blocks), quant_kquants.cpp
// (256-element super-blocks), quant_lowbit.cpp (Q1_0, Q2_0). n is a multiple
// of the type's block. Thread-safe.
#pragma once
#include <cstdint>
#include <cstring>

#include "llmos/common/dtype.hpp"

namespace llmos::quant_detail {

// Block k of a row of Block, copied out (rows need not be aligned).
template <class Block>
Block load_block(const void* src, int64_t k) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(src) + size_t(k) * sizeof(Block), sizeof b);
  return b;
}

void dequantize_q4_1(const void* src, float* y, int64_t n);
void dequantize_q5_0(const void* src, float* y, int64_t n);
void dequantize_q5_1(const void* src, float* y, int64_t n);
void dequantize_iq4_nl(const void* src, float* y, int64_t n);
void dequantize_mxfp4(const void* src, float* y, int64_t n);

void dequantize_q2_k(const void* src, float* y, int64_t n);
void dequantize_q3_k(const void* src, float* y, int64_t n);
void dequantize_q4_k(const void* src, float* y, int64_t n);
void dequantize_q5_k(const void* src, float* y, int64_t n);
void dequantize_q6_k(const void* src, float* y, int64_t n);
void dequantize_iq4_xs(const void* src, float* y, int64_t n);
void dequantize_tq1_0(const void* src, float* y, int64_t n);
void dequantize_tq2_0(const void* src, float* y, int64_t n);
void dequantize_iq3_s(const void* src, float* y, int64_t n);

void dequantize_q1_0(const void* src, float* y, int64_t n);
void dequantize_q2_0(const void* src, float* y, int64_t n);

}  // namespace llmos::quant_detail
