// Building blocks the families' forward passes share: binding GGUF tensors as
// driver weights (shape- and type-checked), the activation buffers of one
// decoder step, and the sublayers most decoder families are made of (q/k/v
// projection, RoPE, cached attention, SwiGLU FFN, final norm + output logits).
// A family composes these and adds its own steps between them (biases, q/k
// norms, post-norms). Used by one model on its engine thread; not thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/engine/kv_cache.hpp"
#include "llmos/engine/model.hpp"

namespace llmos::engine {

// Uploads tensors of one file to one driver, counting their bytes.
class WeightBinder {
 public:
  WeightBinder(const gguf::GgufFile& file, driver::Driver& driver) : file_(file), driver_(driver) {}

  bool has(const std::string& name) const;
  // A matrix of `rows` rows of `cols` (GGUF dims {cols, rows}), any weight type.
  Result<driver::Weight> matrix(const std::string& name, int64_t cols, int64_t rows);
  // A norm gain vector of `cols` f32 values.
  Result<driver::Weight> norm(const std::string& name, int64_t cols);
  // A bias vector of `cols` f32 values (same checks as a norm).
  Result<driver::Weight> bias(const std::string& name, int64_t cols) { return norm(name, cols); }
  // The stacked experts of a mixture: GGUF dims {cols, rows, n_experts}, bound
  // as one weight of n_experts * rows rows (expert e's rows from e * rows).
  Result<driver::Weight> experts(const std::string& name, int64_t cols, int64_t rows, int64_t n_experts);
  uint64_t bytes() const { return bytes_; }

 private:
  Result<driver::Weight> bind(const std::string& name, int64_t cols, int64_t rows, bool f32_only,
                              int64_t n_experts = 0);

  const gguf::GgufFile& file_;
  driver::Driver& driver_;
  uint64_t bytes_ = 0;
};

// Device buffers of f32 activations, allocated at load and owned until the model goes.
class ActivationArena {
 public:
  Result<float*> floats(driver::Driver& driver, size_t n_floats);
  uint64_t bytes() const { return bytes_; }

 private:
  std::vector<std::unique_ptr<driver::DeviceBuffer>> buffers_;
  uint64_t bytes_ = 0;
};

// Activations of one step, T = max_batch_tokens, O = max_outputs, f32 device memory.
struct DecoderBuffers {
  float* x = nullptr;       // [T][dim]    residual stream
  float* xn = nullptr;      // [T][dim]    normed input of a sublayer
  float* q = nullptr;       // [T][q_dim]
  float* k = nullptr;       // [T][kv_dim]
  float* v = nullptr;       // [T][v_dim]
  float* att = nullptr;     // [T][q_dim]  attention output
  float* tmp = nullptr;     // [T][dim]    sublayer output before the residual add
  float* gate = nullptr;    // [T][ffn]
  float* up = nullptr;      // [T][ffn]
  float* xo = nullptr;      // [O][dim]    rows whose logits are wanted
  float* logits = nullptr;  // [O][n_vocab]
  // Only for the layers that need them (null otherwise):
  float* wide = nullptr;            // [T][max(q+k+v, 2 ffn)] a fused projection's output (phi3)
  float* router = nullptr;          // [T][n_experts] router logits
  int32_t* expert_ids = nullptr;    // [T][n_experts_used]
  float* expert_weights = nullptr;  // [T][n_experts_used]
  float* moe_scratch = nullptr;     // driver::moe_scratch_floats(T, n_experts_used, dim, expert_ffn_dim)
};
Result<DecoderBuffers> allocate_decoder_buffers(driver::Driver& driver, ActivationArena& arena,
                                                const ModelConfig& config, const ModelOptions& options);

// Optional weights are null (data == nullptr) when the layer lacks them.
struct AttentionWeights {
  driver::Weight wq, wk, wv, wo;
  driver::Weight bq, bk, bv;        // q/k/v biases (qwen2)
  driver::Weight q_norm, k_norm;    // per-head RMS norm gains [head_dim] (qwen3, gemma3)
};
struct FfnWeights {
  driver::Weight gate, up, down;
};
struct MoeWeights {
  driver::Weight router;  // ffn_gate_inp: [n_experts][dim] f32
  driver::ExpertWeights experts;
};
inline bool present(const driver::Weight& w) { return w.data != nullptr; }

// b.q, b.k, b.v = wq, wk, wv times b.xn (plus their biases), for n tokens.
void project_qkv(driver::Driver& d, const AttentionWeights& w, DecoderBuffers& b, int n);
// Per-head RMS norms of b.q and b.k when the layer has them (no-op otherwise).
void norm_qk(driver::Driver& d, const ModelConfig& c, const AttentionWeights& w, DecoderBuffers& b, int n);
// RoPE on b.q and b.k at the staged positions.
void rope_qk(driver::Driver& d, const ModelConfig& c, const driver::RopeSpec& spec, DecoderBuffers& b);
// The RoPE of layer `layer`: the config's rotary width, the layer's base.
inline driver::RopeSpec layer_rope(const ModelConfig& c, int layer, driver::RopeMode mode,
                                   const float* freq_factors = nullptr) {
  const LayerSpec& l = c.layers[size_t(layer)];
  return driver::RopeSpec{c.rope_dim, l.rope_freq_base, mode, freq_factors, l.rope_freq_scale};
}
// Stores b.k, b.v as layer `layer` of the cache, attends every query over its
// sequence (scale: the logit scale, usually 1/sqrt(head_dim); the layer's
// sliding window if it has one) and projects: b.tmp = wo . attention.
void attend(driver::Driver& d, const ModelConfig& c, const AttentionWeights& w, KvCache& kv, int layer,
            float scale, DecoderBuffers& b, int n);
// b.tmp = down . (silu(gate . b.xn) * (up . b.xn)), for n tokens.
void swiglu_ffn(driver::Driver& d, const ModelConfig& c, const FfnWeights& w, DecoderBuffers& b, int n);
// b.tmp = the mixture of experts of b.xn: router logits, top-k softmax routing,
// the chosen experts' SwiGLU FFNs weighted, for n tokens.
void moe_ffn(driver::Driver& d, const ModelConfig& c, const MoeWeights& w, DecoderBuffers& b, int n);
// Binds a layer's mixture of experts ("blk.N." prefix `p`).
Result<MoeWeights> bind_moe(WeightBinder& bind, const ModelConfig& c, const std::string& p);
// Binds a layer's ffn_gate, ffn_up, ffn_down.
Result<FfnWeights> bind_dense_ffn(WeightBinder& bind, const ModelConfig& c, const std::string& p);
// Binds a layer's attention projections with their optional biases and q/k norms.
Result<AttentionWeights> bind_attention(WeightBinder& bind, const ModelConfig& c, const std::string& p);
// The pre-norm decoder layer of llama and qwen: x += attention(rms_norm(x)),
// then x += ffn(rms_norm(x)), the FFN dense SwiGLU or a mixture of experts.
struct PreNormLayer {
  driver::Weight attn_norm, ffn_norm;
  AttentionWeights attn;  // with whatever biases / q/k norms the file has
  FfnWeights ffn;         // dense layers
  MoeWeights moe;         // mixture-of-experts layers (config n_experts > 0)
};
// Binds layer "blk.N." (prefix `p`) of such a decoder.
Result<PreNormLayer> bind_prenorm_layer(WeightBinder& bind, const ModelConfig& c, const std::string& p);
// Runs layer `layer` on b.x for n tokens with RoPE `rope` (q/k norms applied when present).
void prenorm_layer(driver::Driver& d, const ModelConfig& c, const PreNormLayer& l, int layer,
                   const driver::RopeSpec& rope, KvCache& kv, DecoderBuffers& b, int n);
// The logits of the staged output rows into host memory: output . rms_norm(b.x[rows]).
void output_logits(driver::Driver& d, const ModelConfig& c, const driver::Weight& output_norm,
                   const driver::Weight& output, int n_outputs, DecoderBuffers& b, float* host_logits);

}  // namespace llmos::engine
