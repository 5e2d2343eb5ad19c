#include "llmos/engine/llama_model.hpp"

#include <cmath>
#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {

LlamaModel::~LlamaModel() = default;

Result<std::unique_ptr<LlamaModel>> LlamaModel::load(std::unique_ptr<gguf::GgufFile> file,
                                                     std::unique_ptr<driver::Driver> driver,
                                                     const ModelOptions& options) {
  if (options.max_batch_tokens <= 0 || options.max_outputs <= 0 ||
      options.max_outputs > options.max_batch_tokens) {
    return invalid_argument("model options: need 0 < max_outputs <= max_batch_tokens");
  }
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  LLMOS_ASSIGN_OR_RETURN(m->config_, read_llama_config(*file));
  m->options_ = options;
  m->file_ = std::move(file);
  m->driver_ = std::move(driver);
  LLMOS_RETURN_IF_ERROR(m->bind_weights());
  LLMOS_RETURN_IF_ERROR(m->allocate_activations());
  return m;
}

Status LlamaModel::bind_weights() {
  const auto& c = config_;
  // Binds tensor `name` expecting GGUF dims {cols, rows} (rows = 1 for a vector).
  auto bind = [&](const std::string& name, int64_t cols, int64_t rows, bool f32_only,
                  driver::Weight& out) -> Status {
    const gguf::TensorInfo* t = file_->find_tensor(name);
    if (t == nullptr) return not_found(file_->path() + ": missing tensor '" + name + "'");
    const bool is_vector = rows == 1;
    const bool shape_ok = is_vector ? (t->dims.size() == 1 && t->dims[0] == cols)
                                    : (t->dims.size() == 2 && t->dims[0] == cols && t->dims[1] == rows);
    if (!shape_ok) {
      std::string got;
      for (size_t i = 0; i < t->dims.size(); ++i) got += (i ? ", " : "") + std::to_string(t->dims[i]);
      std::string want = is_vector ? std::to_string(cols) : std::to_string(cols) + ", " + std::to_string(rows);
      return invalid_argument(file_->path() + ": tensor '" + name + "' has shape [" + got + "], expected [" +
                              want + "]");
    }
    if (f32_only && t->type != DType::kF32) {
      return unimplemented(file_->path() + ": tensor '" + name + "' is " + std::string(dtype_name(t->type)) +
                           "; llmos reads norm weights as f32 only");
    }
    driver::Weight host{t->type, t->data, rows, cols};
    LLMOS_ASSIGN_OR_RETURN(out, driver_->upload_weight(host));
    weight_bytes_ += t->n_bytes;
    return ok_status();
  };

  LLMOS_RETURN_IF_ERROR(bind("token_embd.weight", c.dim, c.n_vocab, false, token_embd_));
  LLMOS_RETURN_IF_ERROR(bind("output_norm.weight", c.dim, 1, true, output_norm_));
  if (c.tied_output) {
    output_ = token_embd_;
  } else {
    LLMOS_RETURN_IF_ERROR(bind("output.weight", c.dim, c.n_vocab, false, output_));
  }
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer& l = layers_[size_t(i)];
    LLMOS_RETURN_IF_ERROR(bind(p + "attn_norm.weight", c.dim, 1, true, l.attn_norm));
    LLMOS_RETURN_IF_ERROR(bind(p + "attn_q.weight", c.dim, c.q_dim(), false, l.wq));
    LLMOS_RETURN_IF_ERROR(bind(p + "attn_k.weight", c.dim, c.kv_dim(), false, l.wk));
    LLMOS_RETURN_IF_ERROR(bind(p + "attn_v.weight", c.dim, c.kv_dim(), false, l.wv));
    LLMOS_RETURN_IF_ERROR(bind(p + "attn_output.weight", c.q_dim(), c.dim, false, l.wo));
    LLMOS_RETURN_IF_ERROR(bind(p + "ffn_norm.weight", c.dim, 1, true, l.ffn_norm));
    LLMOS_RETURN_IF_ERROR(bind(p + "ffn_gate.weight", c.dim, c.ffn_dim, false, l.w_gate));
    LLMOS_RETURN_IF_ERROR(bind(p + "ffn_up.weight", c.dim, c.ffn_dim, false, l.w_up));
    LLMOS_RETURN_IF_ERROR(bind(p + "ffn_down.weight", c.ffn_dim, c.dim, false, l.w_down));
  }
  return ok_status();
}

Status LlamaModel::allocate_activations() {
  const auto& c = config_;
  const size_t T = size_t(options_.max_batch_tokens);
  const size_t O = size_t(options_.max_outputs);
  auto take = [&](size_t floats, float*& out) -> Status {
    LLMOS_ASSIGN_OR_RETURN(auto buf, driver_->alloc(floats * sizeof(float)));
    out = static_cast<float*>(buf->data());
    activation_bytes_ += buf->size();
    buffers_.push_back(std::move(buf));
    return ok_status();
  };
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.dim), x_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.dim), xn_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.q_dim()), q_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.kv_dim()), k_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.kv_dim()), v_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.q_dim()), att_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.dim), tmp_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.ffn_dim), gate_));
  LLMOS_RETURN_IF_ERROR(take(T * size_t(c.ffn_dim), up_));
  LLMOS_RETURN_IF_ERROR(take(O * size_t(c.dim), xo_));
  LLMOS_RETURN_IF_ERROR(take(O * size_t(c.n_vocab), logits_));
  return ok_status();
}

void LlamaModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
  LLMOS_REQUIRE(batch.n_tokens > 0 && batch.n_tokens <= options_.max_batch_tokens, "step size");
  LLMOS_REQUIRE(batch.n_outputs >= 0 && batch.n_outputs <= options_.max_outputs, "output count");
  const auto& c = config_;
  const int n = batch.n_tokens;
  const int64_t n_ffn = int64_t(n) * c.ffn_dim;
  const int64_t n_dim = int64_t(n) * c.dim;
  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  driver::Driver& d = *driver_;

  d.begin_step(batch);
  d.embed(token_embd_, x_);
  for (int li = 0; li < c.n_layers; ++li) {
    const Layer& l = layers_[size_t(li)];
    // Attention sublayer.
    d.rms_norm(x_, l.attn_norm, xn_, n, c.dim, c.rms_eps);
    d.matmul(l.wq, xn_, q_, n);
    d.matmul(l.wk, xn_, k_, n);
    d.matmul(l.wv, xn_, v_, n);
    d.rope(q_, c.n_heads, c.head_dim, c.rope_dim, c.rope_freq_base);
    d.rope(k_, c.n_kv_heads, c.head_dim, c.rope_dim, c.rope_freq_base);
    d.kv_store(kv.layout(), kv.data(), li, k_, v_);
    d.attention(kv.layout(), kv.data(), li, q_, att_, c.n_heads, scale);
    d.matmul(l.wo, att_, tmp_, n);
    d.add(x_, tmp_, n_dim);
    // Feed-forward sublayer (SwiGLU).
    d.rms_norm(x_, l.ffn_norm, xn_, n, c.dim, c.rms_eps);
    d.matmul(l.w_gate, xn_, gate_, n);
    d.matmul(l.w_up, xn_, up_, n);
    d.swiglu(gate_, up_, gate_, n_ffn);
    d.matmul(l.w_down, gate_, tmp_, n);
    d.add(x_, tmp_, n_dim);
  }
  if (batch.n_outputs == 0) return;
  d.gather_outputs(x_, xo_, c.dim);
  d.rms_norm(xo_, output_norm_, xo_, batch.n_outputs, c.dim, c.rms_eps);
  d.matmul(output_, xo_, logits_, batch.n_outputs);
  d.copy_to_host(logits, logits_, size_t(batch.n_outputs) * size_t(c.n_vocab) * sizeof(float));
}

}  // namespace llmos::engine
