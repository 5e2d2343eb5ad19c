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

#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "transformer_blocks.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"phi3"};
constexpr uint32_t kRunsLayerTensors = kFusedQkv | kFusedGateUp;

class Phi3FamilyModel final : public Model {
 public:
  static Result<std::unique_ptr<Model>> load(std::unique_ptr<gguf::GgufFile> file,
                                             std::unique_ptr<driver::Driver> driver, const ModelOptions& options);
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  struct Layer {
    driver::Weight attn_norm, ffn_norm;
    driver::Weight wqkv;     // fused [q + k + v rows][dim], or null (separate in attn)
    AttentionWeights attn;   // wo always; wq/wk/wv when not fused
    driver::Weight gate_up;  // fused [2 ffn rows][dim], or null (separate in ffn)
    FfnWeights ffn;          // down always; gate/up when not fused
  };
  using Model::Model;
  Status check_supported() const;
  Status bind_weights();

  driver::Weight token_embd_, output_norm_, output_;
  std::vector<Layer> layers_;
  ActivationArena arena_;
  DecoderBuffers buf_;
};

Result<std::unique_ptr<Model>> Phi3FamilyModel::load(std::unique_ptr<gguf::GgufFile> file,
                                                     std::unique_ptr<driver::Driver> driver,
                                                     const ModelOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
  std::unique_ptr<Phi3FamilyModel> m(
      new Phi3FamilyModel(std::move(config), options, std::move(file), std::move(driver)));
  LLMOS_RETURN_IF_ERROR(m->check_supported());
  LLMOS_RETURN_IF_ERROR(m->bind_weights());
  LLMOS_ASSIGN_OR_RETURN(m->buf_, allocate_decoder_buffers(*m->driver_, m->arena_, m->config_, m->options_));
  m->activation_bytes_ = m->arena_.bytes();
  return std::unique_ptr<Model>(std::move(m));
}

Status Phi3FamilyModel::check_supported() const {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "phi3", false));
  if (c.v_head_dim != c.head_dim) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".attention.value_length' = " +
                         std::to_string(c.v_head_dim) + " differs from the key length " + std::to_string(c.head_dim) +
                         "; llmos's phi3 family needs them equal");
  }
  if (c.n_experts > 0) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".expert_count' = " + std::to_string(c.n_experts) +
                         ": llmos's phi3 family runs no experts");
  }
  return check_layer_tensors(f, c, kRunsLayerTensors, "phi3");
}

Status Phi3FamilyModel::bind_weights() {
  const ModelConfig& c = config_;
  WeightBinder bind(*file_, *driver_);
  LLMOS_ASSIGN_OR_RETURN(token_embd_, bind.matrix("token_embd.weight", c.dim, c.n_vocab));
  LLMOS_ASSIGN_OR_RETURN(output_norm_, bind.norm("output_norm.weight", c.dim));
  if (c.tied_output) {
    output_ = token_embd_;
  } else {
    LLMOS_ASSIGN_OR_RETURN(output_, bind.matrix("output.weight", c.dim, c.n_vocab));
  }
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
  weight_bytes_ = bind.bytes();
  return ok_status();
}

void Phi3FamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
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
  if (batch.n_outputs == 0) return;
  output_logits(d, c, output_norm_, output_, batch.n_outputs, b, logits);
}

}  // namespace

const ModelFamily& phi3_family() {
  static const ModelFamily kFamily{"phi3", kArchitectures, &Phi3FamilyModel::load};
  return kFamily;
}

}  // namespace llmos::engine
