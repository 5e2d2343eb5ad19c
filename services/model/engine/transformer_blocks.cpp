#include "transformer_blocks.hpp"

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {

bool WeightBinder::has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

Result<driver::Weight> WeightBinder::matrix(const std::string& name, int64_t cols, int64_t rows) {
  return bind(name, cols, rows, false);
}

Result<driver::Weight> WeightBinder::norm(const std::string& name, int64_t cols) {
  return bind(name, cols, 1, true);
}

Result<driver::Weight> WeightBinder::bind(const std::string& name, int64_t cols, int64_t rows, bool f32_only) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return not_found(file_.path() + ": missing tensor '" + name + "'");
  const bool is_vector = f32_only;
  const bool shape_ok = is_vector ? (t->dims.size() == 1 && t->dims[0] == cols)
                                  : (t->dims.size() == 2 && t->dims[0] == cols && t->dims[1] == rows);
  if (!shape_ok) {
    std::string got;
    for (size_t i = 0; i < t->dims.size(); ++i) got += (i ? ", " : "") + std::to_string(t->dims[i]);
    std::string want = is_vector ? std::to_string(cols) : std::to_string(cols) + ", " + std::to_string(rows);
    return invalid_argument(file_.path() + ": tensor '" + name + "' has shape [" + got + "], expected [" + want +
                            "]");
  }
  if (f32_only && t->type != DType::kF32) {
    return unimplemented(file_.path() + ": tensor '" + name + "' is " + std::string(dtype_name(t->type)) +
                         "; llmos reads norm weights as f32 only");
  }
  driver::Weight host{t->type, t->data, rows, cols};
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
  return b;
}

void project_qkv(driver::Driver& d, const AttentionWeights& w, DecoderBuffers& b, int n) {
  d.matmul(w.wq, b.xn, b.q, n);
  d.matmul(w.wk, b.xn, b.k, n);
  d.matmul(w.wv, b.xn, b.v, n);
}

void rope_qk(driver::Driver& d, const ModelConfig& c, const LayerSpec& layer, DecoderBuffers& b) {
  d.rope(b.q, c.n_heads, c.head_dim, c.rope_dim, layer.rope_freq_base);
  d.rope(b.k, c.n_kv_heads, c.head_dim, c.rope_dim, layer.rope_freq_base);
}

void attend(driver::Driver& d, const ModelConfig& c, const AttentionWeights& w, KvCache& kv, int layer,
            float scale, DecoderBuffers& b, int n) {
  d.kv_store(kv.layout(), kv.data(), layer, b.k, b.v);
  d.attention(kv.layout(), kv.data(), layer, b.q, b.att, c.n_heads, scale);
  d.matmul(w.wo, b.att, b.tmp, n);
}

void swiglu_ffn(driver::Driver& d, const ModelConfig& c, const FfnWeights& w, DecoderBuffers& b, int n) {
  d.matmul(w.gate, b.xn, b.gate, n);
  d.matmul(w.up, b.xn, b.up, n);
  d.swiglu(b.gate, b.up, b.gate, int64_t(n) * c.ffn_dim);
  d.matmul(w.down, b.gate, b.tmp, n);
}

void output_logits(driver::Driver& d, const ModelConfig& c, const driver::Weight& output_norm,
                   const driver::Weight& output, int n_outputs, DecoderBuffers& b, float* host_logits) {
  d.gather_outputs(b.x, b.xo, c.dim);
  d.rms_norm(b.xo, output_norm, b.xo, n_outputs, c.dim, c.rms_eps);
  d.matmul(output, b.xo, b.logits, n_outputs);
  d.copy_to_host(host_logits, b.logits, size_t(n_outputs) * size_t(c.n_vocab) * sizeof(float));
}

}  // namespace llmos::engine
