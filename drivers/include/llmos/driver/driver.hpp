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
// [n_layers][2 (K, V)][n_blocks][block_size][kv_dim]. A "slot" is
// block * block_size + offset; a sequence's block table maps its logical block i
// (positions i*block_size ...) to a physical block.

// The tokens of one forward step, in host memory; valid until the next begin_step.
// Every token belongs to one sequence; token t is at position positions[t] of
// sequence seq_index[t] and attends to positions [0, positions[t]] of it (causal),
// reading K/V through that sequence's block table. A prefill chunk and decode
// tokens of other sequences may share one step.
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
  // Rotates the first rope_dim elements of each head of x in place, pairs
  // (2i, 2i+1) by angle positions[t] * freq_base^(-2i/rope_dim) (GGML "normal" mode).
  // x: [n_tokens][n_heads][head_dim]
  virtual void rope(float* x, int n_heads, int head_dim, int rope_dim, float freq_base) = 0;
  // out[i] = silu(gate[i]) * up[i].   all [n_elems]; out may be gate or up.
  virtual void swiglu(const float* gate, const float* up, float* out, int64_t n_elems) = 0;
  // x[i] += y[i].
  virtual void add(float* x, const float* y, int64_t n_elems) = 0;
  // Writes each token's K and V rows into its kv_slots entry of `layer`.
  // k, v: [n_tokens][kv_dim] f32; kv: the cache storage described by `layout`.
  virtual void kv_store(const KvGeometry& layout, void* kv, int layer, const float* k, const float* v) = 0;
  // Causal attention of every token over its sequence's cached K/V, grouped-query:
  // head h reads KV head h / (n_heads / n_kv_heads). out = softmax(q.k * scale) . v
  // q, out: [n_tokens][n_heads][head_dim] f32.
  virtual void attention(const KvGeometry& layout, const void* kv, int layer, const float* q,
                         float* out, int n_heads, float scale) = 0;
  // y[i] = x[output_rows[i]] for the staged batch.   x: [n_tokens][dim], y: [n_outputs][dim]
  virtual void gather_outputs(const float* x, float* y, int dim) = 0;
};

struct DriverOptions {
  int threads = 0;  // CPU worker threads; 0 = one per available core
};

// The CPU driver is always available.
Result<std::unique_ptr<Driver>> make_cpu_driver(const DriverOptions& options);

}  // namespace llmos::driver
