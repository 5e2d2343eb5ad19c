// The llama family (general.architecture "llama" or "mistral": Llama 1/2/3,
// TinyLlama, Mistral, Mixtral): pre-norm decoder layers of RMS norm, RoPE'd
// grouped-query attention (Llama 3.1+ rope scaling through the rope_freqs
// tensor) and a SwiGLU feed-forward or a mixture of SwiGLU experts. Files of
// these architectures that need more (biases, other rope scaling) are refused,
// naming the tensor or key.
#include <string>
#include <vector>

#include "decoder_model.hpp"
#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"llama", "mistral"};
constexpr uint32_t kRunsLayerTensors = kExperts;

class LlamaFamilyModel final : public DecoderModel {
 public:
  using DecoderModel::DecoderModel;
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  Status check_supported() override;
  Status bind_layers(WeightBinder& bind) override;

  driver::Weight rope_freqs_;  // Llama 3.1+: per-dimension frequency divisors, or null
  std::vector<PreNormLayer> layers_;
};

// What files of these architectures may hold that this forward pass does not compute.
Status LlamaFamilyModel::check_supported() {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "llama", true));
  LLMOS_RETURN_IF_ERROR(check_experts(f, c));
  LLMOS_RETURN_IF_ERROR(check_equal_head_dims(f, c, "llama"));
  return check_layer_tensors(f, c, kRunsLayerTensors, "llama");
}

Status LlamaFamilyModel::bind_layers(WeightBinder& bind) {
  const ModelConfig& c = config_;
  if (bind.has("rope_freqs.weight")) {
    LLMOS_ASSIGN_OR_RETURN(rope_freqs_, bind.norm("rope_freqs.weight", c.rope_dim / 2));
  }
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    LLMOS_ASSIGN_OR_RETURN(layers_[size_t(i)], bind_prenorm_layer(bind, c, "blk." + std::to_string(i) + "."));
  }
  return ok_status();
}

void LlamaFamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
  const int n = begin_forward(batch);
  const ModelConfig& c = config_;
  const auto* freq_factors = static_cast<const float*>(rope_freqs_.data);
  for (int li = 0; li < c.n_layers; ++li) {
    prenorm_layer(*driver_, c, layers_[size_t(li)], li, layer_rope(c, li, driver::RopeMode::kNormal, freq_factors),
                  kv, buf_, n);
  }
  finish_forward(batch, logits);
}

}  // namespace

const ModelFamily& llama_family() {
  static const ModelFamily kFamily{"llama", kArchitectures, &load_decoder<LlamaFamilyModel>};
  return kFamily;
}

}  // namespace llmos::engine
