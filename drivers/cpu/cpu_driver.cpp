// CpuDriver: the Driver interface on the host CPU. Owns a ThreadPool and the
// scratch the kernels need (grown on first use, reused after); splits every op
// into tasks for the pool and calls the kernels of the chosen ISA level.
#include "cpu_driver.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include "aligned_buffer.hpp"
#include "kernels.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/driver/step_bounds.hpp"
#include "thread_pool.hpp"

namespace llmos::cpu {
namespace {

using driver::DeviceBuffer;
using driver::DriverInfo;
using driver::StepBatch;

class HostBuffer final : public DeviceBuffer {
 public:
  HostBuffer(void* p, size_t n) : data_(p), size_(n) {}
  ~HostBuffer() override { std::free(data_); }
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  void* data_;
  size_t size_;
};

bool is_quantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// GELU in the tanh form GGML uses: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))).
float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

// One token's routing: softmax over n logits, the k most probable (best first,
// the lower id on a tie) and their probabilities over the sum of those k.
void route_top_k(const float* logits, int n, int k, int32_t* ids, float* weights) {
  float mx = logits[0];
  for (int e = 1; e < n; ++e) mx = std::max(mx, logits[e]);
  float sum = 0.0f;
  for (int e = 0; e < n; ++e) sum += std::exp(logits[e] - mx);
  float picked = 0.0f;
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int e = 0; e < n; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || ids[i] == e;
      if (!taken && (best < 0 || logits[e] > logits[best])) best = e;
    }
    ids[j] = best;
    weights[j] = std::exp(logits[best] - mx) / sum;
    picked += weights[j];
  }
  for (int j = 0; j < k; ++j) weights[j] /= picked;
}

// Element-wise ops go parallel above this many elements, in chunks of this size.
constexpr int64_t kParallelElems = 1 << 16;
constexpr int64_t kElemChunk = 1 << 14;

class CpuDriver final : public driver::Driver {
 public:
  CpuDriver(int threads, IsaLevel level)
      : pool_(threads), k_(make_cpu_kernels(level)), scratch_(size_t(threads)) {}

  DriverInfo info() const override {
    return {"cpu", std::to_string(pool_.size()) + (pool_.size() == 1 ? " thread, " : " threads, ") +
                       std::string(isa_level_name(k_.level))};
  }

  // ---- memory ---------------------------------------------------------------
  Result<Weight> upload_weight(const Weight& host) override { return host; }

  Result<std::unique_ptr<DeviceBuffer>> alloc(size_t bytes) override {
    const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    void* p = std::aligned_alloc(64, rounded);
    if (!p) return failed("cpu alloc of " + std::to_string(bytes) + " bytes: out of memory");
    return std::unique_ptr<DeviceBuffer>(std::make_unique<HostBuffer>(p, bytes));
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void synchronize() override {}

  // ---- step -----------------------------------------------------------------
  void begin_step(const StepBatch& batch) override;
  void embed(const Weight& table, float* out) override;
  void matmul(const Weight& w, const float* x, float* y, int n) override;
  void rms_norm(const float* x, const Weight& gain, float* y, int n, int dim, float eps) override;
  void rope(float* x, int n_heads, int head_dim, const driver::RopeSpec& spec) override;
  void swiglu(const float* gate, const float* up, float* out, int64_t n_elems) override;
  void geglu(const float* gate, const float* up, float* out, int64_t n_elems) override;
  void add(float* x, const float* y, int64_t n_elems) override;
  void add_bias(float* x, const Weight& bias, int n) override;
  void scale(float* x, float s, int64_t n_elems) override;
  void copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n) override;
  void moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights) override;
  void moe_ffn(const driver::ExpertWeights& w, const float* x, const int32_t* ids, const float* weights, int n,
               int k, float* y, float* scratch) override;
  void kv_store(const KvGeometry& layout, void* kv, int layer, const float* k, const float* v,
                int window) override;
  void attention(const KvGeometry& layout, const void* kv, int layer, const float* q, float* out,
                 int n_heads, float scale, int window) override;
  void gather_outputs(const float* x, float* y, int dim) override;

 private:
  // Per-worker scratch of at least `bytes`.
  void reserve_worker_scratch(size_t bytes) {
    for (auto& s : scratch_) s.reserve(bytes);
  }
  // Rows per matmul task: several tasks per thread for balance, a multiple of
  // `granule`, at most `max_rows` so a task's weights stay in cache across tokens.
  int64_t rows_per_task(int64_t rows, int64_t granule, int64_t max_rows) const {
    const int64_t want = ceil_div(rows, int64_t(pool_.size()) * 8);
    return std::clamp(ceil_div(want, granule) * granule, granule, max_rows);
  }
  void build_attention_tiles();
  QuantizedActs quantize_activations(DType wtype, const float* x, int64_t cols, int n);
  QuantizedActs quantize_activations_ext(DType wtype, const float* x, int64_t cols, int n);
  void ensure_rope_cache(const driver::RopeSpec& spec);
  // fn(i0, count) over [0, n_elems) in chunks; one chunk (run inline) when small.
  template <class Fn>
  void for_elem_chunks(int64_t n_elems, Fn&& fn);
  // fn(row) for rows [0, n) of `row_elems` elements each, spread over the pool
  // when there are enough elements to pay for it. Always through the pool, so
  // every kernel runs with its floating-point mode (denormals off).
  template <class Fn>
  void for_rows(int64_t n, int64_t row_elems, Fn&& fn);

  ThreadPool pool_;
  CpuKernels k_;
  std::vector<AlignedBuffer> scratch_;  // [worker] matmul panels / attention state
  AlignedBuffer acts_;                  // quantized activations: qs [n][cols], d [n][nb], corr [n][nb]

  StepBatch batch_;
  driver::StepBounds bounds_;  // the step's checks (shared with the CUDA driver)
  // Attention tiles: the step's tokens grouped by sequence (batch order within
  // one), cut into runs of at most kAttentionTileQueries.
  std::vector<int32_t> tile_tokens_;  // [n_tokens] token indices, grouped
  std::vector<int32_t> tile_start_;   // [n_tiles + 1] offsets into tile_tokens_
  std::vector<int32_t> seq_fill_;     // [n_seqs + 1] counting-sort cursor

  AlignedBuffer rope_cache_;  // [n_tokens][rope_dim / 2][2] cos, sin
  bool rope_valid_ = false;
  int rope_dim_ = 0;
  float rope_base_ = 0.0f;
  const float* rope_factors_ = nullptr;
  float rope_scale_ = 1.0f;

  // moe_ffn: the step's (token, slot) pairs grouped by expert (counting sort).
  std::vector<int32_t> expert_start_;  // [n_experts + 1]
  std::vector<int32_t> expert_pairs_;  // [n * k] token * k + slot, grouped by expert
  std::vector<int32_t> expert_cursor_;  // fill cursor, then each pair's grouped row
};

template <class Fn>
void CpuDriver::for_elem_chunks(int64_t n_elems, Fn&& fn) {
  const int64_t chunk = n_elems < kParallelElems ? std::max<int64_t>(n_elems, 1) : kElemChunk;
  pool_.parallel_for(ceil_div(n_elems, chunk), [&](int64_t task, int) {
    const int64_t i0 = task * chunk;
    fn(i0, std::min(chunk, n_elems - i0));
  });
}

template <class Fn>
void CpuDriver::for_rows(int64_t n, int64_t row_elems, Fn&& fn) {
  if (n * row_elems < kParallelElems) {
    pool_.parallel_for(n > 0 ? 1 : 0, [&](int64_t, int) {
      for (int64_t r = 0; r < n; ++r) fn(r);
    });
  } else {
    pool_.parallel_for(n, [&](int64_t r, int) { fn(r); });
  }
}

void CpuDriver::begin_step(const StepBatch& b) {
  bounds_.begin_step(b);
  batch_ = b;
  rope_valid_ = false;
  build_attention_tiles();
}

void CpuDriver::build_attention_tiles() {
  const StepBatch& b = batch_;
  // Counting sort of the tokens by sequence, stable.
  seq_fill_.assign(size_t(b.n_seqs) + 1, 0);
  for (int t = 0; t < b.n_tokens; ++t) ++seq_fill_[size_t(b.seq_index[t]) + 1];
  for (int s = 0; s < b.n_seqs; ++s) seq_fill_[size_t(s) + 1] += seq_fill_[size_t(s)];
  tile_tokens_.resize(size_t(b.n_tokens));
  tile_start_.clear();
  for (int s = 0; s < b.n_seqs; ++s) {  // tiles of each sequence's run
    for (int i = seq_fill_[size_t(s)]; i < seq_fill_[size_t(s) + 1]; i += kAttentionTileQueries)
      tile_start_.push_back(i);
  }
  tile_start_.push_back(b.n_tokens);
  for (int t = 0; t < b.n_tokens; ++t) tile_tokens_[size_t(seq_fill_[size_t(b.seq_index[t])]++)] = t;
}

void CpuDriver::embed(const Weight& table, float* out) {
  bounds_.check_embed(table);
  const int n = batch_.n_tokens;
  const size_t row_bytes = size_t(dtype_row_bytes(table.type, table.cols));
  auto one = [&](int64_t t) {
    const auto* row = static_cast<const uint8_t*>(table.data) + size_t(batch_.token_ids[t]) * row_bytes;
    dequantize_row(table.type, row, out + t * table.cols, table.cols);
  };
  for_rows(n, table.cols, one);
}

QuantizedActs CpuDriver::quantize_activations(DType wtype, const float* x, int64_t cols, int n) {
  const int64_t nb = cols / kQuantBlock;
  const int64_t rows = n >= k_.pad_acts_from_tokens ? ceil_div(n, kActsRowPad) * kActsRowPad : n;
  const size_t qs_bytes = (size_t(rows) * size_t(cols) + 63) / 64 * 64;
  const size_t d_bytes = (size_t(rows) * size_t(nb) * 4 + 63) / 64 * 64;
  acts_.reserve(qs_bytes + 2 * d_bytes);
  auto* qs = reinterpret_cast<int8_t*>(acts_.data());
  auto* d = reinterpret_cast<float*>(acts_.data() + qs_bytes);
  auto* corr = reinterpret_cast<int32_t*>(acts_.data() + qs_bytes + d_bytes);
  if (const int64_t pad = rows - n; pad > 0) {  // whole tiles for the tile kernels
    std::memset(qs + n * cols, 0, size_t(pad * cols));
    std::memset(d + n * nb, 0, size_t(pad * nb) * sizeof(float));
    std::memset(corr + n * nb, 0, size_t(pad * nb) * sizeof(int32_t));
  }
  auto one = [&](int64_t t) {
    k_.quantize_acts(wtype, x + t * cols, cols, qs + t * cols, d + t * nb, corr + t * nb);
  };
  for_rows(n, cols, one);
  return {qs, d, corr, nullptr, cols, n};
}

// Layout in acts_: qs [n][cols], d [n][cols / 32], corr [n][cols / 32], bsums [n][cols / 16],
// sums32 [n][cols / 32].
QuantizedActs CpuDriver::quantize_activations_ext(DType wtype, const float* x, int64_t cols, int n) {
  const int64_t nb32 = cols / kQuantBlock;
  const size_t qs_bytes = (size_t(n) * size_t(cols) + 63) / 64 * 64;
  const size_t d_bytes = (size_t(n) * size_t(nb32) * 4 + 63) / 64 * 64;
  const size_t bs_bytes = (size_t(n) * size_t(cols / 16) * 2 + 63) / 64 * 64;
  acts_.reserve(qs_bytes + 3 * d_bytes + bs_bytes);
  auto* qs = reinterpret_cast<int8_t*>(acts_.data());
  auto* d = reinterpret_cast<float*>(acts_.data() + qs_bytes);
  auto* corr = reinterpret_cast<int32_t*>(acts_.data() + qs_bytes + d_bytes);
  auto* bsums = reinterpret_cast<int16_t*>(acts_.data() + qs_bytes + 2 * d_bytes);
  float* sums32 = uses_scaled_sums32(wtype) ? reinterpret_cast<float*>(acts_.data() + qs_bytes + 2 * d_bytes + bs_bytes)
                                            : nullptr;
  const int64_t nb = cols / ext_acts_block(wtype);
  auto one = [&](int64_t t) {
    k_.quantize_acts_ext(wtype, x + t * cols, cols, qs + t * cols, d + t * nb, corr + t * nb, bsums + t * (cols / 16));
    if (sums32) q8k_scaled_sums32(d + t * nb, bsums + t * (cols / 16), cols, sums32 + t * nb32);
  };
  for_rows(n, cols, one);
  return {qs, d, corr, bsums, cols, n, sums32};
}

void CpuDriver::matmul(const Weight& w, const float* x, float* y, int n) {
  LLMOS_REQUIRE(n >= 0, "negative token count");
  if (n == 0 || w.rows == 0) return;
  {
    const auto* xb = reinterpret_cast<const uint8_t*>(x);
    const auto* yb = reinterpret_cast<const uint8_t*>(y);
    LLMOS_REQUIRE(yb + size_t(n) * size_t(w.rows) * 4 <= xb || xb + size_t(n) * size_t(w.cols) * 4 <= yb,
                  "matmul output overlaps its input");
  }
  if (uses_ext_quant_kernels(w.type)) {
    LLMOS_REQUIRE(w.cols % dtype_block_elems(w.type) == 0, "quantized weight columns not whole blocks");
    const QuantizedActs acts = quantize_activations_ext(w.type, x, w.cols, n);
    const int64_t rows = rows_per_task(w.rows, 16, n > 1 ? 64 : 256);
    pool_.parallel_for(ceil_div(w.rows, rows), [&](int64_t task, int) {
      const int64_t r0 = task * rows;
      k_.matmul_quant_ext(w, acts, y, r0, std::min(w.rows, r0 + rows));
    });
  } else if (is_quantized(w.type)) {
    LLMOS_REQUIRE(w.cols % kQuantBlock == 0, "quantized weight columns not a multiple of 32");
    const QuantizedActs acts = quantize_activations(w.type, x, w.cols, n);
    const int64_t rows = rows_per_task(w.rows, 16, n > 1 ? 64 : 256);
    reserve_worker_scratch(k_.matmul_quant_scratch(w.cols, rows));
    pool_.parallel_for(ceil_div(w.rows, rows), [&](int64_t task, int worker) {
      const int64_t r0 = task * rows;
      k_.matmul_quant(w, acts, y, r0, std::min(w.rows, r0 + rows), scratch_[size_t(worker)].data());
    });
  } else {
    LLMOS_REQUIRE(w.type == DType::kF32 || w.type == DType::kF16 || w.type == DType::kBF16,
                  "unsupported weight type");
    const int64_t rows = rows_per_task(w.rows, 4, n > 1 ? 64 : 256);
    pool_.parallel_for(ceil_div(w.rows, rows), [&](int64_t task, int) {
      const int64_t r0 = task * rows;
      k_.matmul_float(w, x, n, y, r0, std::min(w.rows, r0 + rows));
    });
  }
}

void CpuDriver::rms_norm(const float* x, const Weight& gain, float* y, int n, int dim, float eps) {
  LLMOS_REQUIRE(gain.type == DType::kF32 && gain.rows * gain.cols == dim, "gain must be f32 [dim]");
  const auto* g = static_cast<const float*>(gain.data);
  auto one = [&](int64_t t) { k_.rms_norm(x + t * dim, g, y + t * dim, dim, eps); };
  for_rows(n, dim, one);
}

void CpuDriver::ensure_rope_cache(const driver::RopeSpec& spec) {
  const int rope_dim = spec.rope_dim;
  const float freq_base = spec.freq_base, freq_scale = spec.freq_scale;
  const float* freq_factors = spec.freq_factors;
  if (rope_valid_ && rope_dim == rope_dim_ && freq_base == rope_base_ && freq_factors == rope_factors_ &&
      freq_scale == rope_scale_) {
    return;
  }
  const int half = rope_dim / 2;
  rope_cache_.reserve(size_t(batch_.n_tokens) * size_t(half) * 2 * sizeof(float));
  float* cs = rope_cache_.as<float>();
  // GGML's order of evaluation: theta_i = pos * scale^i by repeated f32 multiplies.
  const float theta_scale = std::pow(freq_base, -2.0f / float(rope_dim));
  for (int t = 0; t < batch_.n_tokens; ++t) {
    float theta = float(batch_.positions[t]);
    float* row = cs + size_t(t) * half * 2;
    for (int i = 0; i < half; ++i) {
      const float angle = freq_scale * (freq_factors != nullptr ? theta / freq_factors[i] : theta);
      row[2 * i] = std::cos(angle);
      row[2 * i + 1] = std::sin(angle);
      theta *= theta_scale;
    }
  }
  rope_valid_ = true;
  rope_dim_ = rope_dim;
  rope_base_ = freq_base;
  rope_factors_ = freq_factors;
  rope_scale_ = freq_scale;
}

void CpuDriver::rope(float* x, int n_heads, int head_dim, const driver::RopeSpec& spec) {
  const int rope_dim = spec.rope_dim;
  LLMOS_REQUIRE(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= head_dim, "rope_dim must be even and <= head_dim");
  ensure_rope_cache(spec);
  const int half = rope_dim / 2;
  // Element i of pair i and its partner: (2i, 2i+1) normal, (i, i + half) neox.
  const bool neox = spec.mode == driver::RopeMode::kNeox;
  const int stride = neox ? 1 : 2;
  const int partner = neox ? half : 1;
  const float* cs = rope_cache_.as<float>();
  auto one = [&](int64_t t) {
    const float* c = cs + size_t(t) * half * 2;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (size_t(t) * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        float* p0 = v + i * stride;
        const float x0 = p0[0], x1 = p0[partner];
        p0[0] = x0 * c[2 * i] - x1 * c[2 * i + 1];
        p0[partner] = x0 * c[2 * i + 1] + x1 * c[2 * i];
      }
    }
  };
  const int n = batch_.n_tokens;
  for_rows(n, int64_t(n_heads) * head_dim, one);
}

void CpuDriver::swiglu(const float* gate, const float* up, float* out, int64_t n_elems) {
  for_elem_chunks(n_elems, [&](int64_t i0, int64_t n) { k_.swiglu(gate + i0, up + i0, out + i0, n); });
}

void CpuDriver::add(float* x, const float* y, int64_t n_elems) {
  for_elem_chunks(n_elems, [&](int64_t i0, int64_t n) { k_.add(x + i0, y + i0, n); });
}

void CpuDriver::geglu(const float* gate, const float* up, float* out, int64_t n_elems) {
  for_elem_chunks(n_elems, [&](int64_t i0, int64_t n) {
    for (int64_t i = i0; i < i0 + n; ++i) out[i] = gelu_tanh(gate[i]) * up[i];
  });
}

void CpuDriver::add_bias(float* x, const Weight& bias, int n) {
  LLMOS_REQUIRE(bias.type == DType::kF32 && bias.rows == 1, "bias must be f32 [cols]");
  const int64_t cols = bias.cols;
  const auto* b = static_cast<const float*>(bias.data);
  for_rows(n, cols, [&](int64_t t) { k_.add(x + t * cols, b, cols); });
}

void CpuDriver::scale(float* x, float s, int64_t n_elems) {
  for_elem_chunks(n_elems, [&](int64_t i0, int64_t n) {
    for (int64_t i = i0; i < i0 + n; ++i) x[i] *= s;
  });
}

void CpuDriver::copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n) {
  LLMOS_REQUIRE(col0 >= 0 && cols >= 0 && col0 + cols <= src_cols, "columns past the source rows");
  for (int t = 0; t < n; ++t) {
    std::memcpy(dst + size_t(t) * cols, src + size_t(t) * src_cols + col0, size_t(cols) * sizeof(float));
  }
}

void CpuDriver::moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights) {
  LLMOS_REQUIRE(k >= 1 && k <= n_experts, "experts used out of range");
  for (int t = 0; t < n; ++t) {
    route_top_k(logits + size_t(t) * n_experts, n_experts, k, ids + size_t(t) * k, weights + size_t(t) * k);
  }
}

void CpuDriver::moe_ffn(const driver::ExpertWeights& w, const float* x, const int32_t* ids, const float* weights,
                        int n, int k, float* y, float* scratch) {
  const int64_t dim = w.gate.cols, ffn = w.ffn;
  LLMOS_REQUIRE(w.gate.rows == int64_t(w.n_experts) * ffn && w.up.rows == w.gate.rows &&
                    w.down.rows == int64_t(w.n_experts) * dim && w.down.cols == ffn,
                "expert tensor shapes");
  // Group the (token, slot) pairs by expert.
  const int pairs = n * k;
  expert_start_.assign(size_t(w.n_experts) + 1, 0);
  for (int i = 0; i < pairs; ++i) {
    LLMOS_REQUIRE(ids[i] >= 0 && ids[i] < w.n_experts, "expert id out of range");
    ++expert_start_[size_t(ids[i]) + 1];
  }
  for (int e = 0; e < w.n_experts; ++e) expert_start_[size_t(e) + 1] += expert_start_[size_t(e)];
  expert_pairs_.resize(size_t(pairs));
  {
    std::vector<int32_t>& fill = expert_cursor_;
    fill.assign(expert_start_.begin(), expert_start_.end());
    for (int i = 0; i < pairs; ++i) expert_pairs_[size_t(fill[size_t(ids[i])]++)] = i;
  }
  // Per expert: its tokens' rows gathered, its three matmuls over all of them at once.
  float* xg = scratch;                        // [pairs][dim]
  float* g = xg + size_t(pairs) * dim;        // [pairs][ffn]
  float* u = g + size_t(pairs) * ffn;         // [pairs][ffn]
  float* o = u + size_t(pairs) * ffn;         // [pairs][dim], expert output per pair
  const size_t gate_row = size_t(dtype_row_bytes(w.gate.type, dim));
  const size_t up_row = size_t(dtype_row_bytes(w.up.type, dim));
  const size_t down_row = size_t(dtype_row_bytes(w.down.type, ffn));
  for (int e = 0; e < w.n_experts; ++e) {
    const int p0 = expert_start_[size_t(e)], m = expert_start_[size_t(e) + 1] - p0;
    if (m == 0) continue;
    for (int j = 0; j < m; ++j) {
      const int t = expert_pairs_[size_t(p0 + j)] / k;
      std::memcpy(xg + size_t(p0 + j) * dim, x + size_t(t) * dim, size_t(dim) * sizeof(float));
    }
    const Weight ge{w.gate.type, static_cast<const uint8_t*>(w.gate.data) + size_t(e) * ffn * gate_row, ffn, dim};
    const Weight ue{w.up.type, static_cast<const uint8_t*>(w.up.data) + size_t(e) * ffn * up_row, ffn, dim};
    const Weight de{w.down.type, static_cast<const uint8_t*>(w.down.data) + size_t(e) * dim * down_row, dim, ffn};
    matmul(ge, xg + size_t(p0) * dim, g + size_t(p0) * ffn, m);
    matmul(ue, xg + size_t(p0) * dim, u + size_t(p0) * ffn, m);
    swiglu(g + size_t(p0) * ffn, u + size_t(p0) * ffn, g + size_t(p0) * ffn, int64_t(m) * ffn);
    matmul(de, g + size_t(p0) * ffn, o + size_t(p0) * dim, m);
  }
  // y[t] = sum over its slots, in slot order (the same sum whatever the grouping).
  std::vector<int32_t>& where = expert_cursor_;  // pair -> its row in the grouped order
  where.assign(size_t(pairs), 0);
  for (int i = 0; i < pairs; ++i) where[size_t(expert_pairs_[size_t(i)])] = i;
  for_rows(n, dim * k, [&](int64_t t) {
    float* yt = y + t * dim;
    for (int64_t c = 0; c < dim; ++c) yt[c] = 0.0f;
    for (int j = 0; j < k; ++j) {
      const float wj = weights[t * k + j];
      const float* ot = o + size_t(where[size_t(t * k + j)]) * dim;
      for (int64_t c = 0; c < dim; ++c) yt[c] += wj * ot[c];
    }
  });
}

void CpuDriver::kv_store(const KvGeometry& L, void* kv, int layer, const float* k, const float* v, int window) {
  bounds_.check_kv_store(L, layer, window);
  const int kv_dim = L.kv_dim();
  const size_t elem = L.elem_bytes();
  auto* base = static_cast<uint8_t*>(kv);
  const int32_t* slots = bounds_.uses_window_tables(window) ? batch_.window_kv_slots : batch_.kv_slots;
  auto one = [&](int64_t t) {
    const size_t slot_off = size_t(slots[t]) * kv_dim;
    for (int which = 0; which < 2; ++which) {
      const float* src = (which == 0 ? k : v) + t * kv_dim;
      uint8_t* dst = base + (L.plane_offset(layer, which) + slot_off) * elem;
      if (L.type == DType::kF32) {
        std::memcpy(dst, src, size_t(kv_dim) * 4);
      } else {
        k_.f32_to_f16(src, reinterpret_cast<uint16_t*>(dst), kv_dim);
      }
    }
  };
  const int n = batch_.n_tokens;
  for_rows(n, kv_dim, one);
}

void CpuDriver::attention(const KvGeometry& L, const void* kv, int layer, const float* q, float* out,
                          int n_heads, float scale, int window) {
  LLMOS_REQUIRE(window >= 0, "negative attention window");
  bounds_.check_attention(L, layer, n_heads, window);
  const StepBatch& b = batch_;
  AttentionArgs a;
  const auto* base = static_cast<const uint8_t*>(kv);
  a.k_cache = base + L.plane_offset(layer, 0) * L.elem_bytes();
  a.v_cache = base + L.plane_offset(layer, 1) * L.elem_bytes();
  a.kv_f16 = L.type == DType::kF16;
  a.kv_dim = L.kv_dim();
  a.head_dim = L.head_dim;
  a.block_size = L.block_size;
  a.n_heads = n_heads;
  a.group = n_heads / L.n_kv_heads;
  a.scale = scale;
  a.window = window;
  a.q = q;
  a.out = out;
  a.positions = b.positions;
  a.seq_index = b.seq_index;
  a.block_tables = bounds_.uses_window_tables(window) ? b.window_block_tables : b.block_tables;
  a.max_blocks = b.max_blocks;

  // A task is one tile of queries (tokens of one sequence) x the heads of one
  // KV group (K/V read once for all of them); split groups further while there
  // are too few tasks for the threads.
  const int64_t n_tiles = int64_t(tile_start_.size()) - 1;
  int heads_per_task = a.group;
  int64_t tasks = n_tiles * L.n_kv_heads;
  while (heads_per_task % 2 == 0 && tasks < 4 * int64_t(pool_.size())) {
    heads_per_task /= 2;
    tasks *= 2;
  }
  reserve_worker_scratch(attention_scratch_floats(L.head_dim, kAttentionTileQueries, heads_per_task) *
                         sizeof(float));
  const int tasks_per_tile = n_heads / heads_per_task;
  pool_.parallel_for(tasks, [&](int64_t task, int worker) {
    const int64_t tile = task / tasks_per_tile;
    const int h0 = int(task % tasks_per_tile) * heads_per_task;
    const int32_t begin = tile_start_[size_t(tile)];
    k_.attention(a, tile_tokens_.data() + begin, tile_start_[size_t(tile) + 1] - begin, h0, heads_per_task,
                 scratch_[size_t(worker)].as<float>());
  });
}

void CpuDriver::gather_outputs(const float* x, float* y, int dim) {
  for (int i = 0; i < batch_.n_outputs; ++i)
    std::memcpy(y + size_t(i) * dim, x + size_t(batch_.output_rows[i]) * dim, size_t(dim) * sizeof(float));
}

}  // namespace

int default_cpu_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int(n) : 1;
}

Result<std::unique_ptr<driver::Driver>> make_cpu_driver_at(const driver::DriverOptions& options,
                                                           IsaLevel level) {
  if (options.threads < 0) {
    return invalid_argument("cpu driver: threads = " + std::to_string(options.threads) +
                            " (expected 0 for one per core, or a positive count)");
  }
  const int threads = options.threads > 0 ? options.threads : default_cpu_threads();
  level = std::min(level, detect_isa_level());
  return std::unique_ptr<driver::Driver>(std::make_unique<CpuDriver>(threads, level));
}

}  // namespace llmos::cpu

namespace llmos::driver {

Result<std::unique_ptr<Driver>> make_cpu_driver(const DriverOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(const cpu::IsaLevel level, cpu::isa_level_from_env());
  return cpu::make_cpu_driver_at(options, level);
}

}  // namespace llmos::driver
