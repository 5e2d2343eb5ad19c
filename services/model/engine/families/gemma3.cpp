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

#include "families/families.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "transformer_blocks.hpp"

namespace llmos::engine {
namespace {

constexpr std::string_view kArchitectures[] = {"gemma3"};
constexpr uint32_t kRunsLayerTensors = kQkNorm | kPostNorms;
constexpr int kLayerPattern = 6;              // five local layers, then one global
constexpr float kDefaultLocalRopeBase = 10000.0f;

class Gemma3FamilyModel final : public Model {
 public:
  static Result<std::unique_ptr<Model>> load(std::unique_ptr<gguf::GgufFile> file,
                                             std::unique_ptr<driver::Driver> driver, const ModelOptions& options);
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) override;

 private:
  struct Layer {
    driver::Weight attn_norm, post_attn_norm, ffn_norm, post_ffn_norm;
    AttentionWeights attn;
    FfnWeights ffn;
  };
  using Model::Model;
  Status configure();
  Status bind_weights();

  driver::Weight token_embd_, output_norm_, output_;
  std::vector<Layer> layers_;
  ActivationArena arena_;
  DecoderBuffers buf_;
};

Result<std::unique_ptr<Model>> Gemma3FamilyModel::load(std::unique_ptr<gguf::GgufFile> file,
                                                       std::unique_ptr<driver::Driver> driver,
                                                       const ModelOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
  std::unique_ptr<Gemma3FamilyModel> m(
      new Gemma3FamilyModel(std::move(config), options, std::move(file), std::move(driver)));
  LLMOS_RETURN_IF_ERROR(m->configure());
  LLMOS_RETURN_IF_ERROR(m->bind_weights());
  LLMOS_ASSIGN_OR_RETURN(m->buf_, allocate_decoder_buffers(*m->driver_, m->arena_, m->config_, m->options_));
  m->activation_bytes_ = m->arena_.bytes();
  return std::unique_ptr<Model>(std::move(m));
}

// Checks what the file asks for and sets the local/global layer pattern.
Status Gemma3FamilyModel::configure() {
  const gguf::GgufFile& f = *file_;
  ModelConfig& c = config_;
  LLMOS_RETURN_IF_ERROR(check_rope_scaling(f, c, "gemma3", false));
  if (c.v_head_dim != c.head_dim) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".attention.value_length' = " +
                         std::to_string(c.v_head_dim) + " differs from the key length " + std::to_string(c.head_dim) +
                         "; llmos's gemma3 family needs them equal");
  }
  if (c.n_experts > 0) {
    return unimplemented(f.path() + ": key '" + c.architecture + ".expert_count' = " + std::to_string(c.n_experts) +
                         ": llmos's gemma3 family runs no experts");
  }
  if (c.sliding_window <= 0) {
    return not_found(f.path() + ": missing key '" + c.architecture +
                     ".attention.sliding_window' (or it is 0): gemma3's local layers need their window");
  }
  const float local_base = c.rope_freq_base_swa > 0.0f ? c.rope_freq_base_swa : kDefaultLocalRopeBase;
  for (int i = 0; i < c.n_layers; ++i) {
    LayerSpec& l = c.layers[size_t(i)];
    if (i % kLayerPattern < kLayerPattern - 1) {
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

Status Gemma3FamilyModel::bind_weights() {
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
  weight_bytes_ = bind.bytes();
  return ok_status();
}

void Gemma3FamilyModel::forward(const driver::StepBatch& batch, KvCache& kv, float* logits) {
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
  if (batch.n_outputs == 0) return;
  output_logits(d, c, output_norm_, output_, batch.n_outputs, b, logits);
}

}  // namespace

const ModelFamily& gemma3_family() {
  static const ModelFamily kFamily{"gemma3", kArchitectures, &Gemma3FamilyModel::load};
  return kFamily;
}

}  // namespace llmos::engine
