// The phi3 family (general.architecture "phi3": Phi-3, Phi-3.5, Phi-4-mini):
// llama's pre-norm decoder with NEOX-order RoPE, q/k/v usually fused in one
// `attn_qkv` projection (rows: q, then k, then v) and gate/up fused in one
// `ffn_up` (rows: gate, then up); their outputs are split by columns. The
// file's attention.sliding_window is not applied, as llama.cpp does not apply
// it for this architecture. Long/short rope factors (128k-context variants) are
// refused, naming the tensor.
#include <cmath>
#include <string>
#include <vector>

#include "decoder_model.hpp"
#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"phi3"};
constexpr uint32_t kRunsLayerTensors = kFusedQkv | kFusedGateUp;

class Phi3FamilyModel final : public DecoderModel {
 public:
  using DecoderModel::DecoderModel;
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  struct Layer {
    driver::Weight attn_norm, ffn_norm;
    driver::Weight wqkv;     // fused [q + k + v rows][dim], or null (separate in attn)
    AttentionWeights attn;   // wo always; wq/wk/wv when not fused
    driver::Weight gate_up;  // fused [2 ffn rows][dim], or null (separate in ffn)
    FfnWeights ffn;          // down always; gate/up when not fused
  };
  Status check_supported() override;
  Status bind_layers(WeightBinder& bind) override;

  std::vector<Layer> layers_;
};

Status Phi3FamilyModel::check_supported() {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "phi3", false));
  LLMOS_RETURN_IF_ERROR(check_equal_head_dims(f, c, "phi3"));
  LLMOS_RETURN_IF_ERROR(check_no_experts(f, c, "phi3"));
  return check_layer_tensors(f, c, kRunsLayerTensors, "phi3");
}

Status Phi3FamilyModel::bind_layers(WeightBinder& bind) {
  const ModelConfig& c = config_;
  layers_.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const uint32_t has = c.layers[size_t(i)].tensors;
    Layer& l = layers_[size_t(i)];
    LLMOS_ASSIGN_OR_RETURN(l.attn_norm, bind.norm(p + "attn_norm.weight", c.dim));
    if (has & kFusedQkv) {
      LLMOS_ASSIGN_OR_RETURN(l.wqkv, bind.matrix(p + "attn_qkv.weight", c.dim, c.q_dim() + c.kv_dim() + c.v_dim()));
      LLMOS_ASSIGN_OR_RETURN(l.attn.wo, bind.matrix(p + "attn_output.weight", c.q_dim(), c.dim));
    } else {
      LLMOS_ASSIGN_OR_RETURN(l.attn, bind_attention(bind, c, p));
    }
    LLMOS_ASSIGN_OR_RETURN(l.ffn_norm, bind.norm(p + "ffn_norm.weight", c.dim));
    if (has & kFusedGateUp) {
      LLMOS_ASSIGN_OR_RETURN(l.gate_up, bind.matrix(p + "ffn_up.weight", c.dim, 2 * int64_t(c.ffn_dim)));
      LLMOS_ASSIGN_OR_RETURN(l.ffn.down, bind.matrix(p + "ffn_down.weight", c.ffn_dim, c.dim));
    } else {
      LLMOS_ASSIGN_OR_RETURN(l.ffn, bind_dense_ffn(bind, c, p));
    }
  }
  return ok_status();
}

void Phi3FamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
  const int n = begin_forward(batch);
  const ModelConfig& c = config_;
  const int64_t n_dim = int64_t(n) * c.dim;
  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  driver::Driver& d = *driver_;
  DecoderBuffers& b = buf_;

  for (int li = 0; li < c.n_layers; ++li) {
    const Layer& l = layers_[size_t(li)];
    d.rms_norm(b.x, l.attn_norm, b.xn, n, c.dim, c.rms_eps);
    if (present(l.wqkv)) {
      const int width = c.q_dim() + c.kv_dim() + c.v_dim();
      d.matmul(l.wqkv, b.xn, b.wide, n);
      d.copy_columns(b.wide, width, 0, c.q_dim(), b.q, n);
      d.copy_columns(b.wide, width, c.q_dim(), c.kv_dim(), b.k, n);
      d.copy_columns(b.wide, width, c.q_dim() + c.kv_dim(), c.v_dim(), b.v, n);
    } else {
      project_qkv(d, l.attn, b, n);
    }
    rope_qk(d, c, layer_rope(c, li, driver::RopeMode::kNeox), b);
    attend(d, c, l.attn, kv, li, scale, b, n);
    d.add(b.x, b.tmp, n_dim);
    d.rms_norm(b.x, l.ffn_norm, b.xn, n, c.dim, c.rms_eps);
    if (present(l.gate_up)) {
      d.matmul(l.gate_up, b.xn, b.wide, n);
      d.copy_columns(b.wide, 2 * c.ffn_dim, 0, c.ffn_dim, b.gate, n);
      d.copy_columns(b.wide, 2 * c.ffn_dim, c.ffn_dim, c.ffn_dim, b.up, n);
      d.swiglu(b.gate, b.up, b.gate, int64_t(n) * c.ffn_dim);
      d.matmul(l.ffn.down, b.gate, b.tmp, n);
    } else {
      swiglu_ffn(d, c, l.ffn, b, n);
    }
    d.add(b.x, b.tmp, n_dim);
  }
  finish_forward(batch, logits);
}

}  // namespace

const ModelFamily& phi3_family() {
  static const ModelFamily kFamily{"phi3", kArchitectures, &load_decoder<Phi3FamilyModel>};
  return kFamily;
}

}  // namespace llmos::engine
