// The qwen family (general.architecture "qwen2", "qwen3", "qwen3moe"): llama's
// pre-norm decoder with NEOX-order RoPE, plus what each generation adds:
// qwen2 biases on q, k and v; qwen3 per-head RMS norms of q and k (and a head
// width that need not be dim / heads); qwen3moe those norms with a mixture of
// SwiGLU experts (top-k softmax routing, renormalised) instead of the dense FFN.
// Tied or separate output projection.
#include <string>
#include <vector>

#include "decoder_model.hpp"
#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"qwen2", "qwen3", "qwen3moe"};

// The optional per-layer tensors each architecture has (and must have).
uint32_t layer_tensors_of(std::string_view arch) {
  if (arch == "qwen2") return kQkvBias;
  if (arch == "qwen3") return kQkNorm;
  return kQkNorm | kExperts;  // qwen3moe
}

class QwenFamilyModel final : public DecoderModel {
 public:
  using DecoderModel::DecoderModel;
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  Status check_supported() override;
  Status bind_layers(WeightBinder& bind) override;

  std::vector<PreNormLayer> layers_;
};

Status QwenFamilyModel::check_supported() {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "qwen", false));
  LLMOS_RETURN_IF_ERROR(check_equal_head_dims(f, c, "qwen"));
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

Status QwenFamilyModel::bind_layers(WeightBinder& bind) {
  const ModelConfig& c = config_;
  const uint32_t wants = layer_tensors_of(c.architecture);
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    PreNormLayer& l = layers_[size_t(i)];
    LLMOS_ASSIGN_OR_RETURN(l, bind_prenorm_layer(bind, c, p));
    // qwen2 must have its biases and qwen3 its q/k norms: a file without them is not what it says.
    if ((wants & kQkvBias) && !present(l.attn.bq)) {
      return not_found(file_->path() + ": missing tensor '" + p + "attn_q.bias' (" + c.architecture +
                       " has q/k/v biases)");
    }
    if ((wants & kQkNorm) && !present(l.attn.q_norm)) {
      return not_found(file_->path() + ": missing tensor '" + p + "attn_q_norm.weight' (" + c.architecture +
                       " has per-head q/k norms)");
    }
  }
  return ok_status();
}

void QwenFamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
  const int n = begin_forward(batch);
  const ModelConfig& c = config_;
  for (int li = 0; li < c.n_layers; ++li) {
    prenorm_layer(*driver_, c, layers_[size_t(li)], li, layer_rope(c, li, driver::RopeMode::kNeox), kv, buf_, n);
  }
  finish_forward(batch, logits);
}

}  // namespace

const ModelFamily& qwen_family() {
  static const ModelFamily kFamily{"qwen", kArchitectures, &load_decoder<QwenFamilyModel>};
  return kFamily;
}

}  // namespace llmos::engine
