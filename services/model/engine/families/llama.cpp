// The llama family (general.architecture "llama" or "mistral": Llama 1/2/3,
// TinyLlama, Mistral, Mixtral): pre-norm decoder layers of RMS norm, RoPE'd
// grouped-query attention (Llama 3.1+ rope scaling through the rope_freqs
// tensor) and a SwiGLU feed-forward or a mixture of SwiGLU experts. Files of
// these architectures that need more (biases, other rope scaling) are refused,
// naming the tensor or key.
#include <cmath>
#include <string>
#include <vector>

#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "transformer_blocks.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"llama", "mistral"};
constexpr uint32_t kRunsLayerTensors = kExperts;

class LlamaFamilyModel final : public Model {
 public:
  static Result<std::unique_ptr<Model>> load(std::unique_ptr<gguf::GgufFile> file,
                                             std::unique_ptr<driver::Driver> driver, const ModelOptions& options);
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  struct Layer {
    driver::Weight attn_norm, ffn_norm;
    AttentionWeights attn;
    FfnWeights ffn;  // dense layers
    MoeWeights moe;  // mixture-of-experts layers (Mixtral)
  };
  using Model::Model;
  Status check_supported() const;
  Status bind_weights();

  driver::Weight token_embd_, output_norm_, output_;
  driver::Weight rope_freqs_;  // Llama 3.1+: per-dimension frequency divisors, or null
  std::vector<Layer> layers_;
  ActivationArena arena_;
  DecoderBuffers buf_;
};

Result<std::unique_ptr<Model>> LlamaFamilyModel::load(std::unique_ptr<gguf::GgufFile> file,
                                                      std::unique_ptr<driver::Driver> driver,
                                                      const ModelOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
  std::unique_ptr<LlamaFamilyModel> m(
      new LlamaFamilyModel(std::move(config), options, std::move(file), std::move(driver)));
  LLMOS_RETURN_IF_ERROR(m->check_supported());
  LLMOS_RETURN_IF_ERROR(m->bind_weights());
  LLMOS_ASSIGN_OR_RETURN(m->buf_, allocate_decoder_buffers(*m->driver_, m->arena_, m->config_, m->options_));
  m->activation_bytes_ = m->arena_.bytes();
  return std::unique_ptr<Model>(std::move(m));
}

// What files of these architectures may hold that this forward pass does not compute.
Status LlamaFamilyModel::check_supported() const {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "llama", true));
  LLMOS_RETURN_IF_ERROR(check_experts(f, c));
  if (c.v_head_dim != c.head_dim) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".attention.value_length' = " +
                         std::to_string(c.v_head_dim) + " differs from the key length " + std::to_string(c.head_dim) +
                         "; llmos's llama family needs them equal");
  }
  return check_layer_tensors(f, c, kRunsLayerTensors, "llama");
}

Status LlamaFamilyModel::bind_weights() {
  const ModelConfig& c = config_;
  WeightBinder bind(*file_, *driver_);
  LLMOS_ASSIGN_OR_RETURN(token_embd_, bind.matrix("token_embd.weight", c.dim, c.n_vocab));
  LLMOS_ASSIGN_OR_RETURN(output_norm_, bind.norm("output_norm.weight", c.dim));
  if (bind.has("rope_freqs.weight")) {
    LLMOS_ASSIGN_OR_RETURN(rope_freqs_, bind.norm("rope_freqs.weight", c.rope_dim / 2));
  }
  if (c.tied_output) {
    output_ = token_embd_;
  } else {
    LLMOS_ASSIGN_OR_RETURN(output_, bind.matrix("output.weight", c.dim, c.n_vocab));
  }
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer& l = layers_[size_t(i)];
    LLMOS_ASSIGN_OR_RETURN(l.attn_norm, bind.norm(p + "attn_norm.weight", c.dim));
    LLMOS_ASSIGN_OR_RETURN(l.attn, bind_attention(bind, c, p));
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

void LlamaFamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
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
    rope_qk(d, c, layer_rope(c, li, driver::RopeMode::kNormal, static_cast<const float*>(rope_freqs_.data)), b);
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

const ModelFamily& llama_family() {
  static const ModelFamily kFamily{"llama", kArchitectures, &LlamaFamilyModel::load};
  return kFamily;
}

}  // namespace llmos::engine
