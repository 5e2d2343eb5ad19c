// The driver interface: every compute operation the model's forward pass needs.
// The model owns a Driver (unique_ptr) and calls it from one engine thread; a
// driver is not thread-safe across callers (it may run its own worker threads).
// Pointers named "device" live in memory the driver allocated or was handed
// (host memory for the CPU driver, device memory for CUDA).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
#include "llmos/domain/kv_geometry.hpp"

namespace llmos::driver {

// A weight matrix: `rows` rows of `cols` elements of `type`, row-major, rows
// contiguous (GGUF: ne0 = cols, ne1 = rows). A 1-D weight (norm gain) has rows = 1.
// `data` is host memory (the mmapped file) before upload, device memory after.
struct Weight {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// The paged KV cache's geometry is llmos::KvGeometry (domain/kv_geometry.hpp):
// [n_layers][2 (K, V)][n_blocks][block_size][kv_dim], a window layer's planes
// n_window_blocks long (plane_offset places both). A "slot" is
// block * block_size + offset; a sequence's block table maps its logical block i
// (positions i*block_size ...) to a physical block.

// The tokens of one forward step, in host memory; valid until the next begin_step.
// Every token belongs to one sequence; token t is at position positions[t] of
// sequence seq_index[t] and attends to positions [0, positions[t]] of it (causal),
// reading K/V through that sequence's block table. A prefill chunk and decode
// tokens of other sequences may share one step. Sliding-window layers (window
// > 0 in kv_store/attention) use window_kv_slots and window_block_tables when
// they are set: their own blocks, of which only those covering a token's window
// need be mapped (earlier entries -1, never read); null: the same as the rest
// (not allowed for a layer the geometry makes a window layer).
struct StepBatch {
  int n_tokens = 0;
  const int32_t* token_ids = nullptr;  // [n_tokens]
  const int32_t* positions = nullptr;  // [n_tokens]
  const int32_t* seq_index = nullptr;  // [n_tokens], row in block_tables
  const int32_t* kv_slots = nullptr;   // [n_tokens], where this token's K/V are stored
  int n_seqs = 0;
  int max_blocks = 0;                     // columns of block_tables
  const int32_t* block_tables = nullptr;  // [n_seqs][max_blocks], -1 = unused
  int n_outputs = 0;                      // tokens whose logits are wanted
  const int32_t* output_rows = nullptr;   // [n_outputs], token indices in this batch
  const int32_t* window_kv_slots = nullptr;      // [n_tokens] or null
  const int32_t* window_block_tables = nullptr;  // [n_seqs][max_blocks] or null
};

// How `Driver::rope` rotates: which element pairs, and the angles.
enum class RopeMode {
  kNormal,  // pairs (2i, 2i+1) (GGML "normal": llama, mistral)
  kNeox,    // pairs (i, i + rope_dim/2) (GGML "neox": qwen2/3, gemma3, phi3)
};
struct RopeSpec {
  int rope_dim = 0;           // leading dims of each head rotated; even, <= head_dim
  float freq_base = 10000.0f;  // theta_i = pos * freq_base^(-2i/rope_dim)
  RopeMode mode = RopeMode::kNormal;
  // Device f32 [rope_dim / 2] or null: theta_i is divided by freq_factors[i]
  // (Llama 3's rope_freqs tensor, as GGML applies it).
  const float* freq_factors = nullptr;
  // Linear rope scaling: every angle times this (1 / rope.scaling.factor).
  float freq_scale = 1.0f;
};

// A mixture of experts' tensors, each expert's rows one after another:
// gate, up: [n_experts * ffn][dim]; down: [n_experts * dim][ffn].
struct ExpertWeights {
  Weight gate, up, down;
  int n_experts = 0;
  int ffn = 0;  // rows of one expert's gate/up
};

// An allocation owned by the driver; freed when destroyed.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;
};

struct DriverInfo {
  std::string name;     // "cpu", "cuda"
  std::string details;  // e.g. "2 threads, avx512" or the GPU's name
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual DriverInfo info() const = 0;

  // ---- memory -------------------------------------------------------------
  // Makes a host weight usable by this driver (CPU: returns it unchanged, no copy).
  virtual Result<Weight> upload_weight(const Weight& host) = 0;
  // Device memory, 64-byte aligned, contents unspecified.
  virtual Result<std::unique_ptr<DeviceBuffer>> alloc(size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* device_src, size_t bytes) = 0;
  virtual void copy_to_device(void* device_dst, const void* host_src, size_t bytes) = 0;
  // Waits until all submitted work is done.
  virtual void synchronize() = 0;

  // ---- one forward step ---------------------------------------------------
  // Stages the step's token metadata (CUDA: one upload). Ops below read it.
  virtual void begin_step(const StepBatch& batch) = 0;

  // out[t][c] = table[token_ids[t]][c] as f32.   out: [n_tokens][table.cols]
  virtual void embed(const Weight& table, float* out) = 0;
  // y[t][r] = sum_c w[r][c] * x[t][c].   x: [n][w.cols] f32, y: [n][w.rows] f32.
  // n is explicit because the output projection runs on the n_outputs rows only.
  virtual void matmul(const Weight& w, const float* x, float* y, int n) = 0;
  // y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * gain.   x, y: [n][dim]; gain: F32 [dim].
  // x and y may be the same buffer.
  virtual void rms_norm(const float* x, const Weight& gain, float* y, int n, int dim, float eps) = 0;
  // Rotates the first spec.rope_dim elements of each head of x in place: pair i
  // (see RopeMode) by angle freq_scale * (positions[t] * freq_base^(-2i/rope_dim) / freq_factors[i]).
  // x: [n_tokens][n_heads][head_dim]
  virtual void rope(float* x, int n_heads, int head_dim, const RopeSpec& spec) = 0;
  // out[i] = silu(gate[i]) * up[i].   all [n_elems]; out may be gate or up.
  virtual void swiglu(const float* gate, const float* up, float* out, int64_t n_elems) = 0;
  // out[i] = gelu(gate[i]) * up[i], GELU in its tanh form (as GGML).  out may be gate or up.
  virtual void geglu(const float* gate, const float* up, float* out, int64_t n_elems) = 0;
  // x[i] += y[i].
  virtual void add(float* x, const float* y, int64_t n_elems) = 0;
  // x[t][c] += bias[c].   x: [n][bias.cols]; bias: F32 [cols].
  virtual void add_bias(float* x, const Weight& bias, int n) = 0;
  // x[i] *= s.
  virtual void scale(float* x, float s, int64_t n_elems) = 0;
  // dst[t][c] = src[t][col0 + c] for c < cols.   src: [n][src_cols], dst: [n][cols]
  // (splits a fused projection's output).
  virtual void copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n) = 0;
  // Routing of a mixture of experts: per token, softmax of logits[t] over the
  // n_experts, the k most probable (ids[t][j], best first) with their
  // probabilities divided by the sum of those k (weights[t][j]).
  // logits: [n][n_experts]; ids, weights: [n][k].
  virtual void moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights) = 0;
  // y[t] = sum_j weights[t][j] * down_e(silu(gate_e . x[t]) * (up_e . x[t])), e = ids[t][j].
  // Tokens are grouped by expert so each expert's weights are read once.
  // x, y: [n][dim]; ids, weights: [n][k] as moe_route writes them (device).
  // scratch: moe_scratch_floats(...) floats of device memory.
  virtual void moe_ffn(const ExpertWeights& w, const float* x, const int32_t* ids, const float* weights, int n,
                       int k, float* y, float* scratch) = 0;
  // Writes each token's K and V rows into its kv_slots entry of `layer`
  // (window_kv_slots when window > 0 and the batch has them: a sliding layer).
  // k, v: [n_tokens][kv_dim] f32; kv: the cache storage described by `layout`.
  virtual void kv_store(const KvGeometry& layout, void* kv, int layer, const float* k, const float* v,
                        int window) = 0;
  // Causal attention of every token over its sequence's cached K/V, grouped-query:
  // head h reads KV head h / (n_heads / n_kv_heads). out = softmax(q.k * scale) . v
  // q, out: [n_tokens][n_heads][head_dim] f32. window > 0: a token at position p
  // sees only positions (p - window, p] (a sliding-window layer), read through
  // window_block_tables when the batch has them; 0: all of them.
  virtual void attention(const KvGeometry& layout, const void* kv, int layer, const float* q,
                         float* out, int n_heads, float scale, int window) = 0;
  // y[i] = x[output_rows[i]] for the staged batch.   x: [n_tokens][dim], y: [n_outputs][dim]
  virtual void gather_outputs(const float* x, float* y, int dim) = 0;
};

// Floats of scratch moe_ffn needs for n tokens, k experts each.
inline size_t moe_scratch_floats(int n, int k, int dim, int ffn) {
  const size_t rows = size_t(n) * size_t(k);
  return rows * (2 * size_t(dim) + 2 * size_t(ffn));
}

struct DriverOptions {
  int threads = 0;  // CPU worker threads; 0 = one per available core
};

// The CPU driver is always available.
Result<std::unique_ptr<Driver>> make_cpu_driver(const DriverOptions& options);

}  // namespace llmos::driver
