// The gemma3 family (general.architecture "gemma3", the text decoder of Gemma 3):
// embeddings scaled by sqrt(dim); per layer an RMS norm before and after both
// attention and the FFN (post_attention_norm, post_ffw_norm, applied to the
// sublayer's output before the residual add); per-head q/k RMS norms; NEOX
// RoPE; a GELU-gated FFN (tanh form); and layers that alternate five local
// ones (sliding window of attention.sliding_window positions, rope base
// rope.freq_base_swa, 10000 when absent) with one global (rope.freq_base and
// the linear rope.scaling.factor of Gemma 3 4B+), layer i local iff i % 6 < 5,
// as llama.cpp runs Gemma 3. Tied output.
#include <cmath>
#include <string>
#include <vector>

#include "decoder_model.hpp"
#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"gemma3"};
constexpr uint32_t kRunsLayerTensors = kQkNorm | kPostNorms;
constexpr float kDefaultLocalRopeBase = 10000.0f;

class Gemma3FamilyModel final : public DecoderModel {
 public:
  using DecoderModel::DecoderModel;
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  struct Layer {
    driver::Weight attn_norm, post_attn_norm, ffn_norm, post_ffn_norm;
    AttentionWeights attn;
    FfnWeights ffn;
  };
  Status check_supported() override;
  Status bind_layers(WeightBinder& bind) override;

  std::vector<Layer> layers_;
};

// Checks what the file asks for and sets the local/global layer pattern in config_.
Status Gemma3FamilyModel::check_supported() {
  const gguf::GgufFile& f = *file_;
  ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "gemma3", false));
  LLMOS_RETURN_IF_ERROR(check_equal_head_dims(f, c, "gemma3"));
  LLMOS_RETURN_IF_ERROR(check_no_experts(f, c, "gemma3"));
  if (c.sliding_window <= 0) {
    return not_found(f.path() + ": missing key '" + c.architecture +
                     ".attention.sliding_window' (or it is 0): gemma3's local layers need their window");
  }
  const float local_base = c.rope_freq_base_swa > 0.0f ? c.rope_freq_base_swa : kDefaultLocalRopeBase;
  for (int i = 0; i < c.n_layers; ++i) {
    LayerSpec& l = c.layers[size_t(i)];
    if (c.is_sliding_window_layer(i)) {  // the pattern the KV estimate sizes by too
      l.attention = AttentionKind::kSlidingWindow;
      l.window = c.sliding_window;
      l.rope_freq_base = local_base;
      l.rope_freq_scale = 1.0f;  // linear scaling is for the global layers (llama.cpp)
    } else {
      l.attention = AttentionKind::kGlobal;
      l.window = 0;
      l.rope_freq_base = c.rope_freq_base;
    }
  }
  return check_layer_tensors(f, c, kRunsLayerTensors, "gemma3");
}

Status Gemma3FamilyModel::bind_layers(WeightBinder& bind) {
  const ModelConfig& c = config_;
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer& l = layers_[size_t(i)];
    LLMOS_ASSIGN_OR_RETURN(l.attn_norm, bind.norm(p + "attn_norm.weight", c.dim));
    LLMOS_ASSIGN_OR_RETURN(l.attn, bind_attention(bind, c, p));
    if (!present(l.attn.q_norm)) {
      return not_found(file_->path() + ": missing tensor '" + p + "attn_q_norm.weight' (gemma3 has q/k norms)");
    }
    LLMOS_ASSIGN_OR_RETURN(l.post_attn_norm, bind.norm(p + "post_attention_norm.weight", c.dim));
    LLMOS_ASSIGN_OR_RETURN(l.ffn_norm, bind.norm(p + "ffn_norm.weight", c.dim));
    LLMOS_ASSIGN_OR_RETURN(l.ffn, bind_dense_ffn(bind, c, p));
    LLMOS_ASSIGN_OR_RETURN(l.post_ffn_norm, bind.norm(p + "post_ffw_norm.weight", c.dim));
  }
  return ok_status();
}

void Gemma3FamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
  const int n = begin_forward(batch);
  const ModelConfig& c = config_;
  const int64_t n_dim = int64_t(n) * c.dim;
  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  driver::Driver& d = *driver_;
  DecoderBuffers& b = buf_;

  d.scale(b.x, std::sqrt(float(c.dim)), n_dim);
  for (int li = 0; li < c.n_layers; ++li) {
    const Layer& l = layers_[size_t(li)];
    d.rms_norm(b.x, l.attn_norm, b.xn, n, c.dim, c.rms_eps);
    project_qkv(d, l.attn, b, n);
    norm_qk(d, c, l.attn, b, n);
    rope_qk(d, c, layer_rope(c, li, driver::RopeMode::kNeox), b);
    attend(d, c, l.attn, kv, li, scale, b, n);
    d.rms_norm(b.tmp, l.post_attn_norm, b.tmp, n, c.dim, c.rms_eps);
    d.add(b.x, b.tmp, n_dim);
    d.rms_norm(b.x, l.ffn_norm, b.xn, n, c.dim, c.rms_eps);
    d.matmul(l.ffn.gate, b.xn, b.gate, n);
    d.matmul(l.ffn.up, b.xn, b.up, n);
    d.geglu(b.gate, b.up, b.gate, int64_t(n) * c.ffn_dim);
    d.matmul(l.ffn.down, b.gate, b.tmp, n);
    d.rms_norm(b.tmp, l.post_ffn_norm, b.tmp, n, c.dim, c.rms_eps);
    d.add(b.x, b.tmp, n_dim);
  }
  finish_forward(batch, logits);
}

}  // namespace

const ModelFamily& gemma3_family() {
  static const ModelFamily kFamily{"gemma3", kArchitectures, &load_decoder<Gemma3FamilyModel>};
  return kFamily;
}

}  // namespace llmos::engine
