// The qwen family (general.architecture "qwen2", "qwen3", "qwen3moe"): llama's
// pre-norm decoder with NEOX-order RoPE, plus what each generation adds:
// qwen2 biases on q, k and v; qwen3 per-head RMS norms of q and k (and a head
// width that need not be dim / heads); qwen3moe those norms with a mixture of
// SwiGLU experts (top-k softmax routing, renormalised) instead of the dense FFN.
// Tied or separate output projection.
#include <cmath>
#include <string>
#include <vector>

#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "transformer_blocks.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"qwen2", "qwen3", "qwen3moe"};

// The optional per-layer tensors each architecture has (and must have).
uint32_t layer_tensors_of(std::string_view arch) {
  if (arch == "qwen2") return kQkvBias;
  if (arch == "qwen3") return kQkNorm;
  return kQkNorm | kExperts;  // qwen3moe
}

class QwenFamilyModel final : public Model {
 public:
  static Result<std::unique_ptr<Model>> load(std::unique_ptr<gguf::GgufFile> file,
                                             std::unique_ptr<driver::Driver> driver, const ModelOptions& options);
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  struct Layer {
    driver::Weight attn_norm, ffn_norm;
    AttentionWeights attn;
    FfnWeights ffn;
    MoeWeights moe;
  };
  using Model::Model;
  Status check_supported() const;
  Status bind_weights();

  driver::Weight token_embd_, output_norm_, output_;
  std::vector<Layer> layers_;
  ActivationArena arena_;
  DecoderBuffers buf_;
};

Result<std::unique_ptr<Model>> QwenFamilyModel::load(std::unique_ptr<gguf::GgufFile> file,
                                                     std::unique_ptr<driver::Driver> driver,
                                                     const ModelOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
  std::unique_ptr<QwenFamilyModel> m(
      new QwenFamilyModel(std::move(config), options, std::move(file), std::move(driver)));
  LLMOS_RETURN_IF_ERROR(m->check_supported());
  LLMOS_RETURN_IF_ERROR(m->bind_weights());
  LLMOS_ASSIGN_OR_RETURN(m->buf_, allocate_decoder_buffers(*m->driver_, m->arena_, m->config_, m->options_));
  m->activation_bytes_ = m->arena_.bytes();
  return std::unique_ptr<Model>(std::move(m));
}

Status QwenFamilyModel::check_supported() const {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "qwen", false));
  if (c.v_head_dim != c.head_dim) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".attention.value_length' = " +
                         std::to_string(c.v_head_dim) + " differs from the key length " + std::to_string(c.head_dim) +
                         "; llmos's qwen family needs them equal");
  }
  const uint32_t runs = layer_tensors_of(c.architecture);
  if ((runs & kExperts) && c.n_experts == 0) {
    return not_found(f.path() + ": missing key '" + c.architecture + ".expert_count' (qwen3moe has experts)");
  }
  if (!(runs & kExperts) && c.n_experts > 0) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".expert_count' = " + std::to_string(c.n_experts) +
                         ": llmos runs experts in qwen3moe files only");
  }
  LLMOS_RETURN_IF_ERROR(check_experts(f, c));
  return check_layer_tensors(f, c, runs, "qwen");
}

Status QwenFamilyModel::bind_weights() {
  const ModelConfig& c = config_;
  WeightBinder bind(*file_, *driver_);
  LLMOS_ASSIGN_OR_RETURN(token_embd_, bind.matrix("token_embd.weight", c.dim, c.n_vocab));
  LLMOS_ASSIGN_OR_RETURN(output_norm_, bind.norm("output_norm.weight", c.dim));
  if (c.tied_output) {
    output_ = token_embd_;
  } else {
    LLMOS_ASSIGN_OR_RETURN(output_, bind.matrix("output.weight", c.dim, c.n_vocab));
  }
  const uint32_t wants = layer_tensors_of(c.architecture);
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer& l = layers_[size_t(i)];
    LLMOS_ASSIGN_OR_RETURN(l.attn_norm, bind.norm(p + "attn_norm.weight", c.dim));
    LLMOS_ASSIGN_OR_RETURN(l.attn, bind_attention(bind, c, p));
    // qwen2 must have its biases and qwen3 its q/k norms: a file without them is not what it says.
    if ((wants & kQkvBias) && !present(l.attn.bq)) {
      return not_found(file_->path() + ": missing tensor '" + p + "attn_q.bias' (" + c.architecture +
                       " has q/k/v biases)");
    }
    if ((wants & kQkNorm) && !present(l.attn.q_norm)) {
      return not_found(file_->path() + ": missing tensor '" + p + "attn_q_norm.weight' (" + c.architecture +
                       " has per-head q/k norms)");
    }
    LLMOS_ASSIGN_OR_RETURN(l.ffn_norm, bind.norm(p + "ffn_norm.weight", c.dim));
    if (c.n_experts > 0) {
      LLMOS_ASSIGN_OR_RETURN(l.moe, bind_moe(bind, c, p));
    } else {
      LLMOS_ASSIGN_OR_RETURN(l.ffn, bind_dense_ffn(bind, c, p));
    }
  }
  weight_bytes_ = bind.bytes();
  return ok_status();
}

void QwenFamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
  LLMOS_REQUIRE(batch.n_tokens > 0 && batch.n_tokens <= options_.max_batch_tokens, "step size");
  LLMOS_REQUIRE(batch.n_outputs >= 0 && batch.n_outputs <= options_.max_outputs, "output count");
  const ModelConfig& c = config_;
  const int n = batch.n_tokens;
  const int64_t n_dim = int64_t(n) * c.dim;
  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  driver::Driver& d = *driver_;
  DecoderBuffers& b = buf_;

  d.begin_step(batch);
  d.embed(token_embd_, b.x);
  for (int li = 0; li < c.n_layers; ++li) {
    const Layer& l = layers_[size_t(li)];
    d.rms_norm(b.x, l.attn_norm, b.xn, n, c.dim, c.rms_eps);
    project_qkv(d, l.attn, b, n);
    norm_qk(d, c, l.attn, b, n);
    rope_qk(d, c, layer_rope(c, li, driver::RopeMode::kNeox), b);
    attend(d, c, l.attn, kv, li, scale, b, n);
    d.add(b.x, b.tmp, n_dim);
    d.rms_norm(b.x, l.ffn_norm, b.xn, n, c.dim, c.rms_eps);
    if (c.n_experts > 0) {
      moe_ffn(d, c, l.moe, b, n);
    } else {
      swiglu_ffn(d, c, l.ffn, b, n);
    }
    d.add(b.x, b.tmp, n_dim);
  }
  if (batch.n_outputs == 0) return;
  output_logits(d, c, output_norm_, output_, batch.n_outputs, b, logits);
}

}  // namespace

const ModelFamily& qwen_family() {
  static const ModelFamily kFamily{"qwen", kArchitectures, &QwenFamilyModel::load};
  return kFamily;
}

}  // namespace llmos::engine
