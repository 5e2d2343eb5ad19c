#include "model_bench.hpp"

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "llmos/common/fp16.hpp"

namespace llmos::cpu {
namespace {

using driver::Driver;
using driver::StepBatch;
using driver::Weight;

// Random blocks written directly (quantizing a billion floats would take longer
// than the benchmark): values uniform with a standard deviation near 0.02.
struct SyntheticWeights {
  std::vector<std::vector<uint8_t>> storage;
  uint64_t state = 0x2545F4914F6CDD1Dull;

  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  Weight make(DType type, int64_t rows, int64_t cols) {
    std::vector<uint8_t> bytes(size_t(dtype_row_bytes(type, cols) * rows));
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      const uint64_t r = next();
      std::memcpy(&bytes[i], &r, 8);
    }
    const float range = 0.035f;  // uniform in [-range, range]: sd 0.02
    const uint16_t d = f32_to_f16(type == DType::kQ8_0 ? range / 127 : range / 8);
    const size_t bb = size_t(dtype_block_bytes(type));
    if (type == DType::kQ8_0 || type == DType::kQ4_0) {
      for (size_t i = 0; i < bytes.size(); i += bb) std::memcpy(&bytes[i], &d, 2);
    } else if (type == DType::kF16 || type == DType::kBF16) {
      auto* h = reinterpret_cast<uint16_t*>(bytes.data());
      for (size_t i = 0; i < bytes.size() / 2; ++i)
        h[i] = type == DType::kF16 ? f32_to_f16(float(int(next() % 2001) - 1000) * (range / 1000))
                                   : f32_to_bf16(float(int(next() % 2001) - 1000) * (range / 1000));
    } else {
      auto* f = reinterpret_cast<float*>(bytes.data());
      for (size_t i = 0; i < bytes.size() / 4; ++i) f[i] = float(int(next() % 2001) - 1000) * (range / 1000);
    }
    storage.push_back(std::move(bytes));
    return Weight{type, storage.back().data(), rows, cols};
  }
  Weight ones(int64_t n) {
    std::vector<uint8_t> bytes(size_t(n) * 4);
    for (int64_t i = 0; i < n; ++i) {
      const float one = 1.0f;
      std::memcpy(&bytes[size_t(i) * 4], &one, 4);
    }
    storage.push_back(std::move(bytes));
    return Weight{DType::kF32, storage.back().data(), 1, n};
  }
};

struct Layer {
  Weight attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
};

class SimModel {
 public:
  SimModel(Driver& drv, const ModelShape& s, int max_tokens, int max_ctx) : drv_(drv), s_(s) {
    head_dim_ = s.dim / s.n_heads;
    kv_dim_ = s.n_kv_heads * head_dim_;
    emb_ = w_.make(s.type, s.vocab, s.dim);
    for (int l = 0; l < s.n_layers; ++l) {
      Layer L;
      L.attn_norm = w_.ones(s.dim);
      L.wq = w_.make(s.type, s.dim, s.dim);
      L.wk = w_.make(s.type, kv_dim_, s.dim);
      L.wv = w_.make(s.type, kv_dim_, s.dim);
      L.wo = w_.make(s.type, s.dim, s.dim);
      L.ffn_norm = w_.ones(s.dim);
      L.w_gate = w_.make(s.type, s.hidden, s.dim);
      L.w_up = w_.make(s.type, s.hidden, s.dim);
      L.w_down = w_.make(s.type, s.dim, s.hidden);
      layers_.push_back(L);
    }
    out_norm_ = w_.ones(s.dim);
    out_ = w_.make(s.type, s.vocab, s.dim);
    for (const auto& b : w_.storage) weight_bytes_ += double(b.size());

    layout_.n_layers = s.n_layers;
    layout_.block_size = 16;
    layout_.n_blocks = (max_ctx + 15) / 16;
    layout_.n_kv_heads = s.n_kv_heads;
    layout_.head_dim = head_dim_;
    layout_.type = DType::kF16;
    kv_.assign(layout_.bytes(), 0);
    const size_t n = size_t(max_tokens);
    x_.resize(n * s.dim);
    xb_.resize(n * s.dim);
    xb2_.resize(n * s.dim);
    q_.resize(n * s.dim);
    k_.resize(n * kv_dim_);
    v_.resize(n * kv_dim_);
    att_.resize(n * s.dim);
    hb_.resize(n * s.hidden);
    hb2_.resize(n * s.hidden);
    logits_.resize(size_t(s.vocab));
    table_.resize(size_t(layout_.n_blocks));
    for (int i = 0; i < layout_.n_blocks; ++i) table_[size_t(i)] = i;
  }

  double weight_bytes() const { return weight_bytes_; }

  // One step: tokens at positions [pos0, pos0 + n) of one sequence; logits of the last.
  void step(int pos0, int n) {
    ids_.resize(size_t(n));
    pos_.resize(size_t(n));
    seq_.assign(size_t(n), 0);
    slots_.resize(size_t(n));
    for (int t = 0; t < n; ++t) {
      ids_[size_t(t)] = (pos0 + t) * 7919 % s_.vocab;
      pos_[size_t(t)] = pos0 + t;
      slots_[size_t(t)] = pos0 + t;  // identity block table
    }
    const int32_t last = n - 1;
    StepBatch b;
    b.n_tokens = n;
    b.token_ids = ids_.data();
    b.positions = pos_.data();
    b.seq_index = seq_.data();
    b.kv_slots = slots_.data();
    b.n_seqs = 1;
    b.max_blocks = layout_.n_blocks;
    b.block_tables = table_.data();
    b.n_outputs = 1;
    b.output_rows = &last;
    Driver& d = drv_;
    d.begin_step(b);
    d.embed(emb_, x_.data());
    const float scale = 1.0f / std::sqrt(float(head_dim_));
    for (int l = 0; l < s_.n_layers; ++l) {
      const Layer& L = layers_[size_t(l)];
      d.rms_norm(x_.data(), L.attn_norm, xb_.data(), n, s_.dim, 1e-5f);
      d.matmul(L.wq, xb_.data(), q_.data(), n);
      d.matmul(L.wk, xb_.data(), k_.data(), n);
      d.matmul(L.wv, xb_.data(), v_.data(), n);
      d.rope(q_.data(), s_.n_heads, head_dim_, driver::RopeSpec{head_dim_, 10000.0f});
      d.rope(k_.data(), s_.n_kv_heads, head_dim_, driver::RopeSpec{head_dim_, 10000.0f});
      d.kv_store(layout_, kv_.data(), l, k_.data(), v_.data(), 0);
      d.attention(layout_, kv_.data(), l, q_.data(), att_.data(), s_.n_heads, scale, 0);
      d.matmul(L.wo, att_.data(), xb2_.data(), n);
      d.add(x_.data(), xb2_.data(), int64_t(n) * s_.dim);
      d.rms_norm(x_.data(), L.ffn_norm, xb_.data(), n, s_.dim, 1e-5f);
      d.matmul(L.w_gate, xb_.data(), hb_.data(), n);
      d.matmul(L.w_up, xb_.data(), hb2_.data(), n);
      d.swiglu(hb_.data(), hb2_.data(), hb_.data(), int64_t(n) * s_.hidden);
      d.matmul(L.w_down, hb_.data(), xb2_.data(), n);
      d.add(x_.data(), xb2_.data(), int64_t(n) * s_.dim);
    }
    d.gather_outputs(x_.data(), xb_.data(), s_.dim);
    d.rms_norm(xb_.data(), out_norm_, xb2_.data(), 1, s_.dim, 1e-5f);
    d.matmul(out_, xb2_.data(), logits_.data(), 1);
    d.synchronize();
  }

 private:
  Driver& drv_;
  ModelShape s_;
  int head_dim_ = 0, kv_dim_ = 0;
  SyntheticWeights w_;
  Weight emb_, out_norm_, out_;
  std::vector<Layer> layers_;
  double weight_bytes_ = 0;
  KvGeometry layout_;
  std::vector<uint8_t> kv_;
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_, logits_;
  std::vector<int32_t> ids_, pos_, seq_, slots_, table_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

}  // namespace

bool model_shape_by_name(const std::string& name, ModelShape* out) {
  if (name == "110m") {
    *out = {"stories110M-shaped q8_0", 768, 12, 12, 12, 2048, 32000, DType::kQ8_0};
    return true;
  }
  if (name == "1.1b") {
    *out = {"TinyLlama-1.1B-shaped q4_0", 2048, 22, 32, 4, 5632, 32000, DType::kQ4_0};
    return true;
  }
  return false;
}

ModelBenchResult run_model_bench(Driver& drv, const ModelShape& shape, int prefill_tokens, int decode_tokens) {
  SimModel m(drv, shape, prefill_tokens, std::max(prefill_tokens, decode_tokens + 1) + 16);
  ModelBenchResult r;
  r.weight_bytes = m.weight_bytes();
  m.step(0, prefill_tokens);  // warm up: scratch, page faults, caches
  auto t0 = std::chrono::steady_clock::now();
  double c0 = process_cpu_seconds();
  m.step(0, prefill_tokens);
  r.prefill_tok_s = prefill_tokens / seconds_since(t0);
  r.prefill_tok_cpu_s = prefill_tokens / (process_cpu_seconds() - c0);
  m.step(0, 1);
  t0 = std::chrono::steady_clock::now();
  c0 = process_cpu_seconds();
  for (int i = 0; i < decode_tokens; ++i) m.step(1 + i, 1);
  r.decode_tok_s = decode_tokens / seconds_since(t0);
  r.decode_tok_cpu_s = decode_tokens / (process_cpu_seconds() - c0);
  return r;
}

}  // namespace llmos::cpu
