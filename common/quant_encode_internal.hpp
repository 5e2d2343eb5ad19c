// Per-type scalar quantizers behind llmos::quantize_row (quant.cpp) for the
// types beyond Q8_0/Q4_0: quant_encode_legacy.cpp (32-element blocks) and
// quant_encode_kquants.cpp (256-element super-blocks). Each searches the
// scales that minimise the squared error of its block (quant_fit.hpp).
// n is a multiple of the type's block. Pure functions: thread-safe.
#pragma once
#include <cstdint>

namespace llmos::quant_detail {

void quantize_q4_1(const float* x, void* dst, int64_t n);
void quantize_q5_0(const float* x, void* dst, int64_t n);
void quantize_q5_1(const float* x, void* dst, int64_t n);
void quantize_iq4_nl(const float* x, void* dst, int64_t n);

void quantize_q2_k(const float* x, void* dst, int64_t n);
void quantize_q3_k(const float* x, void* dst, int64_t n);
void quantize_q4_k(const float* x, void* dst, int64_t n);
void quantize_q5_k(const float* x, void* dst, int64_t n);
void quantize_q6_k(const float* x, void* dst, int64_t n);
void quantize_iq4_xs(const float* x, void* dst, int64_t n);

}  // namespace llmos::quant_detail
