// Launchers of llmos's CUDA kernels, callable from host C++ (the .cu files hold
// the kernels). Every launcher enqueues on `stream` and returns the launch's
// cudaError_t; pointers are device memory unless named *_host. Shapes are
// written beside each argument. Stateless: any thread, any stream.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "llmos/driver/driver.hpp"
#include "step_plan.hpp"

namespace llmos::cuda {

using driver::Weight;

// ---- quantized weights on the device ------------------------------------------
// Q8_0 / Q4_0 weights are re-laid out at upload so rows are 16-byte aligned:
//   Q8_0: qs [rows][cols] int8, then d [rows][cols / 32] f16 bits
//   Q4_0: qs [rows][cols / 2] (per 32-block: byte j = element j low nibble,
//         element j + 16 high nibble, as in GGUF), then d [rows][cols / 32] f16
// Weight::data points at qs; the scales follow at quant_scales_offset().
inline int64_t quant_scales_offset(DType t, int64_t rows, int64_t cols) {
  return t == DType::kQ8_0 ? rows * cols : rows * cols / 2;
}
inline int64_t device_weight_bytes(DType t, int64_t rows, int64_t cols) {
  if (t == DType::kQ8_0 || t == DType::kQ4_0) return quant_scales_offset(t, rows, cols) + rows * (cols / 32) * 2;
  return rows * dtype_row_bytes(t, cols);
}

// The other block types (Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4, Q1_0, Q2_0, Q2_K..Q6_K,
// IQ4_XS, IQ3_S, TQ1_0, TQ2_0) stay in their GGUF layout (device_weight_bytes = the host bytes)
// and reach cuBLAS through launch_dequant_ext_f16 for every token count.
inline bool is_ext_quant(DType t) { return dtype_is_quantized(t) && t != DType::kQ8_0 && t != DType::kQ4_0; }
// out [n_rows][w.cols] f16 = rows [r0, r0 + n_rows) of the ext-type weight w.
cudaError_t launch_dequant_ext_f16(const Weight& w, int64_t r0, int64_t n_rows, void* out, cudaStream_t stream);

// Re-lays out `n_rows` rows of GGUF blocks (`raw`, dtype_row_bytes(type, cols)
// per row) into the device layout of a weight with `total_rows` rows, starting
// at row `r0`. `dst` is the weight's qs pointer.
cudaError_t launch_repack_quant(DType type, const void* raw, int64_t r0, int64_t n_rows, int64_t total_rows,
                                int64_t cols, void* dst, cudaStream_t stream);
// out [n_rows][w.cols] f16 = rows [r0, r0 + n_rows) of the quantized weight w.
cudaError_t launch_dequant_f16(const Weight& w, int64_t r0, int64_t n_rows, void* out, cudaStream_t stream);
// Q8_0-style activations for the dp4a kernels, per 32-block of each row:
// xq [n][cols] int8, xd [n][cols/32] f32 (the f16-rounded scale), xs [n][cols/32] sum of xq.
cudaError_t launch_quantize_acts(const float* x, int n, int64_t cols, int8_t* xq, float* xd, int32_t* xs,
                                 cudaStream_t stream);
// y [n][w.rows] = w . x for a Q8_0/Q4_0 weight and n tokens quantized as above
// (one pass over the weight per 8 tokens).
cudaError_t launch_matvec_quant(const Weight& w, const int8_t* xq, const float* xd, const int32_t* xs, int n,
                                float* y, cudaStream_t stream);

// ---- element-wise -----------------------------------------------------------------
// out [n_tokens][table.cols] f32 = rows token_ids[t] of table (any weight type, device layout).
cudaError_t launch_embed(const Weight& table, const int32_t* token_ids, int n_tokens, float* out,
                         cudaStream_t stream);
// y [n][dim] = x / sqrt(mean(x^2) + eps) * gain; x may equal y.
cudaError_t launch_rms_norm(const float* x, const float* gain, float* y, int n, int dim, float eps,
                            cudaStream_t stream);
// table [n_tokens][rope_dim / 2][2] = cos, sin of freq_scale * (positions[t] * theta_scale^i / freq_factors[i])
// (theta by repeated f32 multiplies, as the CPU driver and GGML do; freq_factors may be null).
cudaError_t launch_rope_table(const int32_t* positions, int n_tokens, int rope_dim, float theta_scale,
                              const float* freq_factors, float freq_scale, float* table, cudaStream_t stream);
// Rotates pairs (2i, 2i+1) (neox: (i, i + rope_dim/2)), i < rope_dim / 2, of
// x [n_tokens][n_heads][head_dim] in place.
cudaError_t launch_rope(float* x, const float* table, int n_tokens, int n_heads, int head_dim, int rope_dim,
                        bool neox, cudaStream_t stream);
// out = silu(gate) * up; out may alias gate or up.
cudaError_t launch_swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);
// x += y.
cudaError_t launch_add(float* x, const float* y, int64_t n, cudaStream_t stream);

// ---- model-family ops (kernels_family.cu) -----------------------------------------
// out = gelu_tanh(gate) * up; out may alias gate or up.
cudaError_t launch_geglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);
// x [n][cols] += bias [cols].
cudaError_t launch_add_bias(float* x, const float* bias, int n, int64_t cols, cudaStream_t stream);
// x *= s.
cudaError_t launch_scale(float* x, float s, int64_t n, cudaStream_t stream);
// dst [n][cols] = src [n][src_cols] columns [col0, col0 + cols).
cudaError_t launch_copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n,
                                cudaStream_t stream);
// Per token: softmax of logits [n][n_experts], top k ids [n][k], renormalised weights [n][k].
cudaError_t launch_moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights,
                             cudaStream_t stream);
// y [n][dim] = sum_j weights[t][j] * o[where[t * k + j]]   (o: [n * k][dim] expert outputs, grouped).
cudaError_t launch_moe_combine(const float* o, const int32_t* where, const float* weights, int n, int k, int dim,
                               float* y, cudaStream_t stream);
// k_plane/v_plane [n_slots][kv_dim] (f16 or f32) at kv_slots[t] = k/v [n_tokens][kv_dim] f32.
cudaError_t launch_kv_store(void* k_plane, void* v_plane, bool f16, int kv_dim, const float* k, const float* v,
                            const int32_t* kv_slots, int n_tokens, cudaStream_t stream);
// y [n_rows][dim] = x [rows[i]][dim].
cudaError_t launch_gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* y,
                               cudaStream_t stream);
// y [n] f16 or bf16 (to) = x [n] f32, round to nearest even.
cudaError_t launch_convert_f32(const float* x, void* y, DType to, int64_t n, cudaStream_t stream);

// ---- attention --------------------------------------------------------------------
struct AttentionParams {
  const void* k_plane = nullptr;  // [n_blocks][block_size][kv_dim] of the layer's K
  const void* v_plane = nullptr;  // same for V
  bool kv_f16 = true;
  bool vec_ok = false;  // rows 16-byte aligned: vector loads allowed
  int kv_dim = 0, head_dim = 0, block_size = 0;
  int n_heads = 0, n_kv_heads = 0, group = 1;  // group = n_heads / n_kv_heads
  float scale = 1.0f;
  int window = 0;            // > 0: a query at p sees positions (p - window, p] only
  const float* q = nullptr;  // [n_tokens][n_heads][head_dim]
  float* out = nullptr;      // [n_tokens][n_heads][head_dim]
  const int32_t* positions = nullptr;     // [n_tokens]
  const int32_t* seq_index = nullptr;     // [n_tokens]
  const int32_t* block_tables = nullptr;  // [n_seqs][max_blocks]
  int max_blocks = 0;
  const DecodeWork* work = nullptr;    // [n_work]
  const ReduceItem* reduce = nullptr;  // [n_reduce]
  const PrefillTile* tiles = nullptr;  // [n_tiles]
  float* partial_acc = nullptr;        // [n_work][n_heads][head_dim]
  float* partial_ml = nullptr;         // [n_work][n_heads][2] running max, sum
};
inline constexpr int kMaxHeadDim = 256;
inline constexpr int kPrefillTile = 32;  // query tokens per prefill block (PlanOptions::prefill_tile)

// Dynamic shared memory the prefill kernel needs at this head_dim; where it
// exceeds the device's opt-in limit the driver sends every token to the decode kernel.
size_t prefill_smem_bytes(int head_dim);
// Raises the prefill kernels' dynamic shared memory limit up to max_smem_optin
// (cudaDevAttrMaxSharedMemoryPerBlockOptin of the current device).
cudaError_t init_attention_kernels(size_t max_smem_optin);
cudaError_t launch_decode_attention(const AttentionParams& p, int n_work, cudaStream_t stream);
cudaError_t launch_reduce_attention(const AttentionParams& p, int n_reduce, cudaStream_t stream);
cudaError_t launch_prefill_attention(const AttentionParams& p, int n_tiles, cudaStream_t stream);

// ---- sampling -----------------------------------------------------------------------
struct SampleRowParams {  // device copy of driver::DeviceSampleRow
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
  double uniform;
};
inline constexpr int kMaxSampleTopK = 1024;  // == driver::kMaxDeviceTopK (checked in cuda_attention.cpp)
// out [n_rows] = one token per row of logits [n_rows][n_vocab].
cudaError_t launch_sample(const float* logits, int n_rows, int n_vocab, const SampleRowParams* rows, int32_t* out,
                          cudaStream_t stream);

}  // namespace llmos::cuda
