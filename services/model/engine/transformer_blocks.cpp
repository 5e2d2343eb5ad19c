#include "transformer_blocks.hpp"

#include <algorithm>
#include <cmath>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {

bool WeightBinder::has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

Result<driver::Weight> WeightBinder::matrix(const std::string& name, int64_t cols, int64_t rows) {
  return bind(name, cols, rows, false);
}

Result<driver::Weight> WeightBinder::norm(const std::string& name, int64_t cols) {
  return bind(name, cols, 1, true);
}

Result<driver::Weight> WeightBinder::experts(const std::string& name, int64_t cols, int64_t rows,
                                             int64_t n_experts) {
  return bind(name, cols, rows, false, n_experts);
}

Result<driver::Weight> WeightBinder::bind(const std::string& name, int64_t cols, int64_t rows, bool f32_only,
                                          int64_t n_experts) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return not_found(file_.path() + ": missing tensor '" + name + "'");
  const bool is_vector = f32_only;
  const bool shape_ok =
      is_vector      ? (t->dims.size() == 1 && t->dims[0] == cols)
      : n_experts > 0 ? (t->dims.size() == 3 && t->dims[0] == cols && t->dims[1] == rows && t->dims[2] == n_experts)
                      : (t->dims.size() == 2 && t->dims[0] == cols && t->dims[1] == rows);
  if (!shape_ok) {
    std::string got;
    for (size_t i = 0; i < t->dims.size(); ++i) got += (i ? ", " : "") + std::to_string(t->dims[i]);
    std::string want = is_vector ? std::to_string(cols) : std::to_string(cols) + ", " + std::to_string(rows);
    if (n_experts > 0) want += ", " + std::to_string(n_experts);
    return invalid_argument(file_.path() + ": tensor '" + name + "' has shape [" + got + "], expected [" + want +
                            "]");
  }
  if (f32_only && t->type != DType::kF32) {
    return unimplemented(file_.path() + ": tensor '" + name + "' is " + std::string(dtype_name(t->type)) +
                         "; llmos reads norm weights as f32 only");
  }
  driver::Weight host{t->type, t->data, n_experts > 0 ? rows * n_experts : rows, cols};
  LLMOS_ASSIGN_OR_RETURN(driver::Weight w, driver_.upload_weight(host));
  bytes_ += t->n_bytes;
  return w;
}

Result<float*> ActivationArena::floats(driver::Driver& driver, size_t n_floats) {
  LLMOS_ASSIGN_OR_RETURN(auto buf, driver.alloc(n_floats * sizeof(float)));
  float* out = static_cast<float*>(buf->data());
  bytes_ += buf->size();
  buffers_.push_back(std::move(buf));
  return out;
}

Result<DecoderBuffers> allocate_decoder_buffers(driver::Driver& d, ActivationArena& arena, const ModelConfig& c,
                                                const ModelOptions& options) {
  const size_t T = size_t(options.max_batch_tokens);
  const size_t O = size_t(options.max_outputs);
  DecoderBuffers b;
  LLMOS_ASSIGN_OR_RETURN(b.x, arena.floats(d, T * size_t(c.dim)));
  LLMOS_ASSIGN_OR_RETURN(b.xn, arena.floats(d, T * size_t(c.dim)));
  LLMOS_ASSIGN_OR_RETURN(b.q, arena.floats(d, T * size_t(c.q_dim())));
  LLMOS_ASSIGN_OR_RETURN(b.k, arena.floats(d, T * size_t(c.kv_dim())));
  LLMOS_ASSIGN_OR_RETURN(b.v, arena.floats(d, T * size_t(c.v_dim())));
  LLMOS_ASSIGN_OR_RETURN(b.att, arena.floats(d, T * size_t(c.q_dim())));
  LLMOS_ASSIGN_OR_RETURN(b.tmp, arena.floats(d, T * size_t(c.dim)));
  LLMOS_ASSIGN_OR_RETURN(b.gate, arena.floats(d, T * size_t(c.ffn_dim)));
  LLMOS_ASSIGN_OR_RETURN(b.up, arena.floats(d, T * size_t(c.ffn_dim)));
  LLMOS_ASSIGN_OR_RETURN(b.xo, arena.floats(d, O * size_t(c.dim)));
  LLMOS_ASSIGN_OR_RETURN(b.logits, arena.floats(d, O * size_t(c.n_vocab)));
  size_t wide = 0;
  for (const LayerSpec& l : c.layers) {
    if (l.tensors & kFusedQkv) wide = std::max(wide, size_t(c.q_dim() + c.kv_dim() + c.v_dim()));
    if (l.tensors & kFusedGateUp) wide = std::max(wide, 2 * size_t(c.ffn_dim));
  }
  if (wide > 0) {
    LLMOS_ASSIGN_OR_RETURN(b.wide, arena.floats(d, T * wide));
  }
  if (c.n_experts > 0) {
    const size_t k = size_t(c.n_experts_used);
    LLMOS_ASSIGN_OR_RETURN(b.router, arena.floats(d, T * size_t(c.n_experts)));
    LLMOS_ASSIGN_OR_RETURN(float* ids, arena.floats(d, T * k));  // int32 in a float-sized slot each
    b.expert_ids = reinterpret_cast<int32_t*>(ids);
    LLMOS_ASSIGN_OR_RETURN(b.expert_weights, arena.floats(d, T * k));
    LLMOS_ASSIGN_OR_RETURN(b.moe_scratch, arena.floats(d, driver::moe_scratch_floats(int(T), int(k), c.dim,
                                                                                      c.expert_ffn_dim)));
  }
  return b;
}

void project_qkv(driver::Driver& d, const AttentionWeights& w, DecoderBuffers& b, int n) {
  d.matmul(w.wq, b.xn, b.q, n);
  d.matmul(w.wk, b.xn, b.k, n);
  d.matmul(w.wv, b.xn, b.v, n);
  if (present(w.bq)) d.add_bias(b.q, w.bq, n);
  if (present(w.bk)) d.add_bias(b.k, w.bk, n);
  if (present(w.bv)) d.add_bias(b.v, w.bv, n);
}

void norm_qk(driver::Driver& d, const ModelConfig& c, const AttentionWeights& w, DecoderBuffers& b, int n) {
  if (present(w.q_norm)) d.rms_norm(b.q, w.q_norm, b.q, n * c.n_heads, c.head_dim, c.rms_eps);
  if (present(w.k_norm)) d.rms_norm(b.k, w.k_norm, b.k, n * c.n_kv_heads, c.head_dim, c.rms_eps);
}

void rope_qk(driver::Driver& d, const ModelConfig& c, const driver::RopeSpec& spec, DecoderBuffers& b) {
  d.rope(b.q, c.n_heads, c.head_dim, spec);
  d.rope(b.k, c.n_kv_heads, c.head_dim, spec);
}

Result<AttentionWeights> bind_attention(WeightBinder& bind, const ModelConfig& c, const std::string& p) {
  AttentionWeights a;
  LLMOS_ASSIGN_OR_RETURN(a.wq, bind.matrix(p + "attn_q.weight", c.dim, c.q_dim()));
  LLMOS_ASSIGN_OR_RETURN(a.wk, bind.matrix(p + "attn_k.weight", c.dim, c.kv_dim()));
  LLMOS_ASSIGN_OR_RETURN(a.wv, bind.matrix(p + "attn_v.weight", c.dim, c.v_dim()));
  LLMOS_ASSIGN_OR_RETURN(a.wo, bind.matrix(p + "attn_output.weight", c.q_dim(), c.dim));
  if (bind.has(p + "attn_q.bias") || bind.has(p + "attn_k.bias") || bind.has(p + "attn_v.bias")) {
    LLMOS_ASSIGN_OR_RETURN(a.bq, bind.bias(p + "attn_q.bias", c.q_dim()));
    LLMOS_ASSIGN_OR_RETURN(a.bk, bind.bias(p + "attn_k.bias", c.kv_dim()));
    LLMOS_ASSIGN_OR_RETURN(a.bv, bind.bias(p + "attn_v.bias", c.v_dim()));
  }
  if (bind.has(p + "attn_q_norm.weight") || bind.has(p + "attn_k_norm.weight")) {
    LLMOS_ASSIGN_OR_RETURN(a.q_norm, bind.norm(p + "attn_q_norm.weight", c.head_dim));
    LLMOS_ASSIGN_OR_RETURN(a.k_norm, bind.norm(p + "attn_k_norm.weight", c.head_dim));
  }
  return a;
}

Result<FfnWeights> bind_dense_ffn(WeightBinder& bind, const ModelConfig& c, const std::string& p) {
  FfnWeights w;
  LLMOS_ASSIGN_OR_RETURN(w.gate, bind.matrix(p + "ffn_gate.weight", c.dim, c.ffn_dim));
  LLMOS_ASSIGN_OR_RETURN(w.up, bind.matrix(p + "ffn_up.weight", c.dim, c.ffn_dim));
  LLMOS_ASSIGN_OR_RETURN(w.down, bind.matrix(p + "ffn_down.weight", c.ffn_dim, c.dim));
  return w;
}

Result<MoeWeights> bind_moe(WeightBinder& bind, const ModelConfig& c, const std::string& p) {
  MoeWeights m;
  const int e = c.n_experts, f = c.expert_ffn_dim;
  LLMOS_ASSIGN_OR_RETURN(m.router, bind.matrix(p + "ffn_gate_inp.weight", c.dim, e));
  LLMOS_ASSIGN_OR_RETURN(m.experts.gate, bind.experts(p + "ffn_gate_exps.weight", c.dim, f, e));
  LLMOS_ASSIGN_OR_RETURN(m.experts.up, bind.experts(p + "ffn_up_exps.weight", c.dim, f, e));
  LLMOS_ASSIGN_OR_RETURN(m.experts.down, bind.experts(p + "ffn_down_exps.weight", f, c.dim, e));
  m.experts.n_experts = e;
  m.experts.ffn = f;
  return m;
}

void attend(driver::Driver& d, const ModelConfig& c, const AttentionWeights& w, KvCache& kv, int layer,
            float scale, DecoderBuffers& b, int n) {
  d.kv_store(kv.layout(), kv.data(), layer, b.k, b.v, c.attention_window(layer));
  d.attention(kv.layout(), kv.data(), layer, b.q, b.att, c.n_heads, scale, c.attention_window(layer));
  d.matmul(w.wo, b.att, b.tmp, n);
}

void swiglu_ffn(driver::Driver& d, const ModelConfig& c, const FfnWeights& w, DecoderBuffers& b, int n) {
  d.matmul(w.gate, b.xn, b.gate, n);
  d.matmul(w.up, b.xn, b.up, n);
  d.swiglu(b.gate, b.up, b.gate, int64_t(n) * c.ffn_dim);
  d.matmul(w.down, b.gate, b.tmp, n);
}

void moe_ffn(driver::Driver& d, const ModelConfig& c, const MoeWeights& w, DecoderBuffers& b, int n) {
  d.matmul(w.router, b.xn, b.router, n);
  d.moe_route(b.router, n, c.n_experts, c.n_experts_used, b.expert_ids, b.expert_weights);
  d.moe_ffn(w.experts, b.xn, b.expert_ids, b.expert_weights, n, c.n_experts_used, b.tmp, b.moe_scratch);
}

Result<PreNormLayer> bind_prenorm_layer(WeightBinder& bind, const ModelConfig& c, const std::string& p) {
  PreNormLayer l;
  LLMOS_ASSIGN_OR_RETURN(l.attn_norm, bind.norm(p + "attn_norm.weight", c.dim));
  LLMOS_ASSIGN_OR_RETURN(l.attn, bind_attention(bind, c, p));
  LLMOS_ASSIGN_OR_RETURN(l.ffn_norm, bind.norm(p + "ffn_norm.weight", c.dim));
  if (c.n_experts > 0) {
    LLMOS_ASSIGN_OR_RETURN(l.moe, bind_moe(bind, c, p));
  } else {
    LLMOS_ASSIGN_OR_RETURN(l.ffn, bind_dense_ffn(bind, c, p));
  }
  return l;
}

void prenorm_layer(driver::Driver& d, const ModelConfig& c, const PreNormLayer& l, int layer,
                   const driver::RopeSpec& rope, KvCache& kv, DecoderBuffers& b, int n) {
  const int64_t n_dim = int64_t(n) * c.dim;
  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  d.rms_norm(b.x, l.attn_norm, b.xn, n, c.dim, c.rms_eps);
  project_qkv(d, l.attn, b, n);
  norm_qk(d, c, l.attn, b, n);
  rope_qk(d, c, rope, b);
  attend(d, c, l.attn, kv, layer, scale, b, n);
  d.add(b.x, b.tmp, n_dim);
  d.rms_norm(b.x, l.ffn_norm, b.xn, n, c.dim, c.rms_eps);
  if (c.n_experts > 0) {
    moe_ffn(d, c, l.moe, b, n);
  } else {
    swiglu_ffn(d, c, l.ffn, b, n);
  }
  d.add(b.x, b.tmp, n_dim);
}

void output_logits(driver::Driver& d, const ModelConfig& c, const driver::Weight& output_norm,
                   const driver::Weight& output, int n_outputs, DecoderBuffers& b, float* host_logits) {
  d.gather_outputs(b.x, b.xo, c.dim);
  d.rms_norm(b.xo, output_norm, b.xo, n_outputs, c.dim, c.rms_eps);
  d.matmul(output, b.xo, b.logits, n_outputs);
  d.copy_to_host(host_logits, b.logits, size_t(n_outputs) * size_t(c.n_vocab) * sizeof(float));
}

}  // namespace llmos::engine
