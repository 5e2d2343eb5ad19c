// CpuKernels: the table of compute kernels for one ISA level, filled by the
// per-ISA files (kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp,
// quant_avx2.cpp, quant_avx512_vnni.cpp, quant_amx.cpp). Kernels are pure functions of their
// arguments: any thread may call them on disjoint outputs. The driver splits the
// work and owns all buffers; kernels never allocate.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu_features.hpp"
#include "llmos/driver/driver.hpp"

namespace llmos::cpu {

using driver::Weight;

// Activations quantized to Q8_0 blocks for the integer matmul kernels, one row
// per token. The scales are f32 values of f16 scales (as Q8_0 stores them).
// From CpuKernels::pad_acts_from_tokens tokens on, the arrays hold
// round_up(n, kActsRowPad) rows, the ones past n zero (tile kernels read whole tiles).
inline constexpr int kActsRowPad = 16;
struct QuantizedActs {
  const int8_t* qs = nullptr;     // [n][cols]
  const float* d = nullptr;       // [n][cols / 32]
  const int32_t* corr = nullptr;  // [n][cols / 32], offset correction the kernels chose
  // Ext types (see CpuKernels::matmul_quant_ext) on 256-element blocks: d is
  // [n][cols / 256] and bsums [n][cols / 16] holds the sums of each 16 qs.
  const int16_t* bsums = nullptr;
  int64_t cols = 0;
  int n = 0;
  // Q4_K/Q5_K (mins per 32 elements): [n][cols / 32] d times the sum of each 32
  // qs, so a block's mins term is one f32 product (see q8k_scaled_sums32).
  const float* sums32 = nullptr;
};

// One layer's attention over the paged cache, with the staged batch.
struct AttentionArgs {
  const void* k_cache = nullptr;  // [n_blocks][block_size][kv_dim] of f16 or f32
  const void* v_cache = nullptr;  // same
  bool kv_f16 = true;
  int kv_dim = 0;
  int head_dim = 0;
  int block_size = 0;
  int n_heads = 0;
  int group = 1;  // query heads per KV head
  float scale = 1.0f;
  int window = 0;  // > 0: a query at p sees positions (p - window, p] only
  const float* q = nullptr;  // [n_tokens][n_heads][head_dim]
  float* out = nullptr;      // [n_tokens][n_heads][head_dim]
  const int32_t* positions = nullptr;
  const int32_t* seq_index = nullptr;
  const int32_t* block_tables = nullptr;  // [n_seqs][max_blocks]
  int max_blocks = 0;
};

// Positions the single-query attention kernel scores at a time.
inline constexpr int kAttentionChunk = 32;
// Most queries (tokens of one sequence) in one attention task.
inline constexpr int kAttentionTileQueries = 16;

struct CpuKernels {
  IsaLevel level = IsaLevel::kScalar;

  // y[t][r] = w[r] . x[t] for rows [r0, r1) and all n tokens; w is F32/F16/BF16.
  // x: [n][w.cols], y: [n][w.rows].
  void (*matmul_float)(const Weight& w, const float* x, int n, float* y, int64_t r0, int64_t r1) =
      nullptr;

  // Quantizes one activation row of `cols` floats for a matmul with weights of
  // `wtype` (Q8_0 or Q4_0). REQUIRES: cols % 32 == 0.
  void (*quantize_acts)(DType wtype, const float* x, int64_t cols, int8_t* qs, float* d,
                        int32_t* corr) = nullptr;
  // y[t][r] = w[r] . x[t] for rows [r0, r1); w is Q8_0/Q4_0; x from quantize_acts.
  // scratch: matmul_quant_scratch(cols, r1 - r0) bytes, 64-byte aligned.
  void (*matmul_quant)(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1,
                       uint8_t* scratch) = nullptr;
  size_t (*matmul_quant_scratch)(int64_t cols, int64_t rows) = nullptr;

  // The weight types beyond Q8_0/Q4_0 ("ext", uses_ext_quant_kernels): Q4_1,
  // Q5_0, Q5_1, IQ4_NL, MXFP4 on Q8_0 activation blocks (d: the f32 value of the
  // f16 scale; corr: each block's sum of qs), Q1_0 and Q2_0 on the same Q8_0
  // blocks (their 128/64-element blocks are whole Q8_0 blocks), and Q2_K..Q6_K,
  // IQ4_XS, IQ3_S, TQ1_0, TQ2_0 on Q8_K blocks of 256 (d: f32 scale; bsums:
  // sums of 16 qs). Activation arrays hold cols / ext_acts_block(wtype) blocks
  // per token.
  // quantize_acts_ext: one activation row of `cols` for weights of `wtype`
  // (corr unused for the 256 types, bsums for the 32 ones).
  void (*quantize_acts_ext)(DType wtype, const float* x, int64_t cols, int8_t* qs, float* d, int32_t* corr,
                            int16_t* bsums) = nullptr;
  // y[t][r] = w[r] . x[t] for rows [r0, r1) and all x.n tokens; no scratch.
  void (*matmul_quant_ext)(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1) = nullptr;
  // matmul_quant reads whole tiles of kActsRowPad activation rows from this many tokens on.
  int pad_acts_from_tokens = 1 << 30;

  // Heads [head0, head0 + n_heads_task) (all in one KV group) of the tokens
  // tokens[0 .. n_tokens) (all of one sequence, n_tokens <= kAttentionTileQueries).
  // scratch: attention_scratch_floats(head_dim, n_tokens, n_heads_task) floats.
  void (*attention)(const AttentionArgs& a, const int32_t* tokens, int n_tokens, int head0,
                    int n_heads_task, float* scratch) = nullptr;

  // y = x / sqrt(mean(x^2) + eps) * gain, one row of `dim`.
  void (*rms_norm)(const float* x, const float* gain, float* y, int dim, float eps) = nullptr;
  // out = silu(gate) * up.
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  // x += y.
  void (*add)(float* x, const float* y, int64_t n) = nullptr;
  // y = f16(x), round to nearest even.
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n) = nullptr;
};

size_t attention_scratch_floats(int head_dim, int n_tokens, int n_heads_task);

// True for the weight types matmul_quant_ext handles (every block type but Q8_0, Q4_0).
inline bool uses_ext_quant_kernels(DType t) {
  return dtype_is_quantized(t) && t != DType::kQ8_0 && t != DType::kQ4_0;
}

// Elements per activation block of the ext kernels for weights of `t`: 256
// (Q8_K) for the 256-element types, 32 (Q8_0) for the rest.
inline int64_t ext_acts_block(DType t) { return dtype_block_elems(t) == kSuperBlock ? kSuperBlock : kQuantBlock; }

// The kernels for `level`. REQUIRES: level <= detect_isa_level().
CpuKernels make_cpu_kernels(IsaLevel level);

// Per-ISA fillers (each defined in its own file, compiled with that ISA's flags).
void fill_scalar_kernels(CpuKernels& k);
void fill_scalar_ext_quant_kernels(CpuKernels& k);
// The Q8_K activation blocks of the ext 256-element types (scalar reference,
// bit-identical to every level's quantize_acts_ext).
void quantize_acts_q8k_scalar(const float* x, int64_t cols, int8_t* qs, float* d, int16_t* bsums);
// True for the weight types whose kernels read QuantizedActs::sums32.
inline bool uses_scaled_sums32(DType t) { return t == DType::kQ4_K || t == DType::kQ5_K; }
// sums32[g] = d[g / 8] * (bsums[2g] + bsums[2g + 1]) for the cols / 32 groups
// of one Q8_K activation row.
void q8k_scaled_sums32(const float* d, const int16_t* bsums, int64_t cols, float* sums32);
#if defined(__x86_64__)
void fill_avx2_float_kernels(CpuKernels& k);
void fill_avx2_quant_kernels(CpuKernels& k);
void fill_avx2_ext_quant_kernels(CpuKernels& k);
void fill_avx512_float_kernels(CpuKernels& k);
void fill_avx512_vnni_quant_kernels(CpuKernels& k);
void fill_amx_quant_kernels(CpuKernels& k);
// The AVX-512 VNNI integer matmul, which the AMX kernels use for few tokens.
void matmul_quant_avx512_vnni(const Weight& w, const QuantizedActs& x, float* y, int64_t r0, int64_t r1,
                              uint8_t* scratch);
size_t matmul_quant_scratch_avx512_vnni(int64_t cols, int64_t rows);
#endif

}  // namespace llmos::cpu
