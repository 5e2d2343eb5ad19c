// Quantizers of the 32-element block types Q4_1, Q5_0, Q5_1 and IQ4_NL: the
// block's scale (and offset) from the error-minimising search of quant_fit, stored
// as f16, then every element re-rounded against the stored values.
#include <cstring>

#include "llmos/common/dtype.hpp"
#include "llmos/common/fp16.hpp"
#include "quant_encode_internal.hpp"
#include "quant_fit.hpp"

namespace llmos::quant_detail {
namespace {

template <class Block>
void store(void* dst, int64_t k, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(dst) + size_t(k) * sizeof(Block), &b, sizeof b);
}

// Rounds a float through f16 and back: the value a reader will see.
float as_f16(float v, uint16_t& bits) {
  bits = f32_to_f16(v);
  return f16_to_f32(bits);
}

// Element j in the low nibble of byte j, element j + 16 in the high nibble.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kQuantBlock / 2; ++j)
    qs[j] = uint8_t((q[j] & 0x0f) | ((q[j + kQuantBlock / 2] & 0x0f) << 4));
}

// Fifth bits: bit i of the little-endian 32-bit word for element i.
void pack_high_bits(const uint8_t* q, uint8_t* qh) {
  uint32_t h = 0;
  for (int i = 0; i < kQuantBlock; ++i) h |= uint32_t((q[i] >> 4) & 1) << i;
  for (int b = 0; b < 4; ++b) qh[b] = uint8_t(h >> (8 * b));
}

// Affine blocks (Q4_1, Q5_1): x = d * q + m with q in [0, qmax].
template <class Block>
Block affine_block(const float* x, int qmax, uint8_t* q) {
  const AffineFit f = fit_affine(x, kQuantBlock, qmax, false, q);
  Block b{};
  const float d = as_f16(f.d, b.d);
  const float m = as_f16(f.m, b.m);
  round_affine(x, kQuantBlock, d, m, qmax, q);
  return b;
}

}  // namespace

void quantize_q4_1(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    uint8_t q[kQuantBlock];
    auto b = affine_block<BlockQ4_1>(x + k * kQuantBlock, 15, q);
    pack_nibbles(q, b.qs);
    store(dst, k, b);
  }
}

void quantize_q5_1(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    uint8_t q[kQuantBlock];
    auto b = affine_block<BlockQ5_1>(x + k * kQuantBlock, 31, q);
    pack_nibbles(q, b.qs);
    pack_high_bits(q, b.qh);
    store(dst, k, b);
  }
}

void quantize_q5_0(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const float* xb = x + k * kQuantBlock;
    int8_t s[kQuantBlock];
    BlockQ5_0 b{};
    const float d = as_f16(fit_symmetric(xb, kQuantBlock, -16, 15, s), b.d);
    round_symmetric(xb, kQuantBlock, d, -16, 15, s);
    uint8_t q[kQuantBlock];
    for (int i = 0; i < kQuantBlock; ++i) q[i] = uint8_t(s[i] + 16);
    pack_nibbles(q, b.qs);
    pack_high_bits(q, b.qh);
    store(dst, k, b);
  }
}

void quantize_iq4_nl(const float* x, void* dst, int64_t n) {
  for (int64_t k = 0; k < n / kQuantBlock; ++k) {
    const float* xb = x + k * kQuantBlock;
    uint8_t q[kQuantBlock];
    BlockIQ4_NL b{};
    const float d = as_f16(fit_iq4(xb, kQuantBlock, q), b.d);
    round_iq4(xb, kQuantBlock, d, q);
    pack_nibbles(q, b.qs);
    store(dst, k, b);
  }
}

}  // namespace llmos::quant_detail
