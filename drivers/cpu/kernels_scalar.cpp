// Portable kernels: the float kernels with a one-lane "vector", and the integer
// Q8_0/Q4_0 matmul in plain C++. Built for the baseline target; the reference
// the SIMD paths are compared against in spirit, and the path off x86-64.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.hpp"
#include "llmos/common/fp16.hpp"

namespace llmos::cpu {
namespace {

struct ScalarV {
  using F = float;
  static constexpr int kWidth = 1;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  static F zero() { return 0.0f; }
  static F set1(float v) { return v; }
  static F load(const float* p) { return *p; }
  static F load_part(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static F load_f16(const uint16_t* p) { return f16_to_f32(*p); }
  static F load_f16_part(const uint16_t* p, int n) { return n > 0 ? f16_to_f32(*p) : 0.0f; }
  static F load_bf16(const uint16_t* p) { return bf16_to_f32(*p); }
  static F load_bf16_part(const uint16_t* p, int n) { return n > 0 ? bf16_to_f32(*p) : 0.0f; }
  static void store(float* p, F v) { *p = v; }
  static void store_part(float* p, F v, int n) {
    if (n > 0) *p = v;
  }
  static void store_f16(uint16_t* p, F v) { *p = f32_to_f16(v); }
  static void store_f16_part(uint16_t* p, F v, int n) {
    if (n > 0) *p = f32_to_f16(v);
  }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F mul(F a, F b) { return a * b; }
  static F div(F a, F b) { return a / b; }
  static F fma(F a, F b, F c) { return a * b + c; }  // not fmaf: no FMA unit on baseline x86-64
  static F max(F a, F b) { return a > b ? a : b; }
  static F exp(F x) { return ::expf(x); }
  static float reduce_add(F v) { return v; }
  static float reduce_max(F v) { return v; }
  static F reduce_many(const F* v) { return v[0]; }
  static F blend_part(F a, F b, int n) { return n > 0 ? a : b; }
  static void transpose(F*) {}
};

}  // namespace
}  // namespace llmos::cpu

#include "attention_impl.hpp"
#include "float_kernels_impl.hpp"

namespace llmos::cpu {
namespace {

// Same arithmetic as llmos::quantize_row_q8_0, so the scalar reference matches
// bit for bit; the scale is kept as the f32 value of its f16.
void quantize_acts_scalar(DType, const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr) {
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int i = 0; i < kQuantBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = llmos::f16_to_f32(llmos::f32_to_f16(db));
    int32_t sum = 0;
    for (int i = 0; i < kQuantBlock; ++i) {
      const auto q = int8_t(std::lround(xb[i] * id));
      qs[b * kQuantBlock + i] = q;
      sum += q;
    }
    corr[b] = sum;  // unused here; kept for symmetry with the SIMD kernels
  }
}

void matmul_quant_scalar(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1,
                         uint8_t*) {
  const int64_t nb = w.cols / kQuantBlock;
  const bool q8 = w.type == DType::kQ8_0;
  const size_t row_bytes = size_t(nb) * (q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * row_bytes;
    for (int t = 0; t < x.n; ++t) {
      const int8_t* xq = x.qs + t * x.cols;
      const float* xd = x.d + t * nb;
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t isum = 0;
        float dw = 0.0f;
        const int8_t* xb = xq + b * kQuantBlock;
        if (q8) {
          BlockQ8_0 blk;
          std::memcpy(&blk, row + b * sizeof(BlockQ8_0), sizeof blk);
          dw = f16_to_f32(blk.d);
          for (int i = 0; i < kQuantBlock; ++i) isum += int32_t(blk.qs[i]) * xb[i];
        } else {
          BlockQ4_0 blk;
          std::memcpy(&blk, row + b * sizeof(BlockQ4_0), sizeof blk);
          dw = f16_to_f32(blk.d);
          for (int i = 0; i < kQuantBlock / 2; ++i) {
            isum += (int32_t(blk.qs[i] & 0x0f) - 8) * xb[i];
            isum += (int32_t(blk.qs[i] >> 4) - 8) * xb[i + kQuantBlock / 2];
          }
        }
        acc += dw * xd[b] * float(isum);
      }
      y[int64_t(t) * w.rows + r] = acc;
    }
  }
}

size_t matmul_quant_scratch_none(int64_t, int64_t) { return 0; }

}  // namespace

void fill_scalar_kernels(CpuKernels& k) {
  fill_float_kernels<ScalarV>(k);
  k.attention = &attention<ScalarV>;
  k.quantize_acts = &quantize_acts_scalar;
  k.matmul_quant = &matmul_quant_scalar;
  k.matmul_quant_scratch = &matmul_quant_scratch_none;
}

}  // namespace llmos::cpu
