// Scalar reference kernels for the ext weight types (Q4_1, Q5_0, Q5_1, IQ4_NL,
// MXFP4, Q1_0, Q2_0, Q2_K..Q6_K, IQ4_XS, IQ3_S, TQ1_0, TQ2_0): activations
// quantized to Q8_0 or Q8_K blocks, each weight block (Q1_0/Q2_0: each 32
// elements of one) decoded to integers (quant_ext_decode.hpp),
// integer dot products scaled in f32. The SIMD kernels are tested against the
// same arithmetic. Pure functions: thread-safe on disjoint outputs.
#include <cmath>
#include <cstring>

#include "kernels.hpp"
#include "llmos/common/fp16.hpp"
#include "quant_ext_decode.hpp"

namespace llmos::cpu {
namespace {

// Q8_0 blocks exactly as llmos::quantize_row_q8_0 makes them; corr = sum of qs.
void quantize_acts32(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr) {
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int i = 0; i < kQuantBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = f16_to_f32(f32_to_f16(db));
    int32_t sum = 0;
    for (int i = 0; i < kQuantBlock; ++i) {
      const auto q = int8_t(std::lround(xb[i] * id));
      qs[b * kQuantBlock + i] = q;
      sum += q;
    }
    corr[b] = sum;
  }
}

}  // namespace

// Q8_K blocks: scale 127 / max|x| (f32), round to nearest even; bsums per 16.
// Declared in kernels.hpp (the tests quantize their reference with it).
void quantize_acts_q8k_scalar(const float* x, int64_t cols, int8_t* qs, float* d, int16_t* bsums) {
  for (int64_t b = 0; b < cols / kSuperBlock; ++b) {
    const float* xb = x + b * kSuperBlock;
    float amax = 0.0f;
    for (int i = 0; i < kSuperBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float iscale = amax != 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax != 0.0f ? 1.0f / iscale : 0.0f;
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) {
        const float v = std::nearbyint(xb[g * 16 + i] * iscale);
        const auto q = int8_t(v > 127.0f ? 127.0f : v);
        qs[b * kSuperBlock + g * 16 + i] = q;
        sum += q;
      }
      bsums[b * 16 + g] = int16_t(sum);
    }
  }
}

void q8k_scaled_sums32(const float* d, const int16_t* bsums, int64_t cols, float* sums32) {
  for (int64_t g = 0; g < cols / 32; ++g) sums32[g] = d[g / 8] * float(bsums[2 * g] + bsums[2 * g + 1]);
}

namespace {

void quantize_acts_ext_scalar(DType wtype, const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr,
                              int16_t* bsums) {
  if (is_super_block_type(wtype)) {
    quantize_acts_q8k_scalar(x, cols, qs, d, bsums);
  } else {
    quantize_acts32(x, cols, qs, d, corr);
  }
}

void matmul_ext_scalar(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1) {
  const size_t row_bytes = size_t(dtype_row_bytes(w.type, w.cols));
  const bool super = is_super_block_type(w.type);
  const int64_t nb = w.cols / ext_acts_block(w.type);  // activation blocks; 32-element steps below
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes;
    for (int t = 0; t < x.n; ++t) y[int64_t(t) * w.rows + r] = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      if (super) {
        Decoded256 blk;
        decode_block256(w.type, row, b, blk);
        for (int t = 0; t < x.n; ++t) {
          const int8_t* xq = x.qs + int64_t(t) * x.cols + b * kSuperBlock;
          const int16_t* bs = x.bsums + (int64_t(t) * nb + b) * 16;
          int32_t sumi = 0, summ = 0;
          for (int g = 0; g < 16; ++g) {
            int32_t dot = 0;
            for (int i = 0; i < 16; ++i) dot += int32_t(blk.q[g * 16 + i]) * xq[g * 16 + i];
            sumi += blk.sc[g] * dot;
            summ += blk.mn[g] * bs[g];
          }
          const float dx = x.d[int64_t(t) * nb + b];
          y[int64_t(t) * w.rows + r] += blk.d * dx * float(sumi) - blk.dmin * dx * float(summ);
        }
      } else {
        Decoded32 blk;
        decode_block32(w.type, row, b, blk);
        for (int t = 0; t < x.n; ++t) {
          const int8_t* xq = x.qs + int64_t(t) * x.cols + b * kQuantBlock;
          int32_t dot = 0;
          for (int i = 0; i < kQuantBlock; ++i) dot += int32_t(blk.q[i]) * xq[i];
          const float dx = x.d[int64_t(t) * nb + b];
          y[int64_t(t) * w.rows + r] += blk.d * dx * float(dot) + blk.m * dx * float(x.corr[int64_t(t) * nb + b]);
        }
      }
    }
  }
}

}  // namespace

void fill_scalar_ext_quant_kernels(CpuKernels& k) {
  k.quantize_acts_ext = &quantize_acts_ext_scalar;
  k.matmul_quant_ext = &matmul_ext_scalar;
}

}  // namespace llmos::cpu
