#include "llmos/engine/model_config.hpp"

#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {
namespace {

struct OptionalTensors {
  LayerTensor bit;
  std::string_view what;
  std::string_view names[3];  // under "blk.N."; any one shows the bit
};

constexpr OptionalTensors kOptionalTensors[] = {
    {kQkvBias, "q/k/v biases", {"attn_q.bias", "attn_k.bias", "attn_v.bias"}},
    {kQkNorm, "per-head q/k norms", {"attn_q_norm.weight", "attn_k_norm.weight", {}}},
    {kPostNorms, "norms after attention and FFN", {"post_attention_norm.weight", "post_ffw_norm.weight", {}}},
    {kFusedQkv, "a fused q/k/v projection", {"attn_qkv.weight", {}, {}}},
    {kFusedGateUp, "a fused gate/up projection", {}},  // found by ffn_up's shape (below)
    {kExperts, "a mixture of experts", {"ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight"}},
    {kOutputBias, "an attention output bias", {"attn_output.bias", {}, {}}},
};

std::string layer_prefix(int layer) { return "blk." + std::to_string(layer) + "."; }

// The name of the tensor that shows `bit` in layer `layer` of `f`, or "".
std::string present_tensor(const gguf::GgufFile& f, const ModelConfig& c, int layer, const OptionalTensors& o) {
  const std::string p = layer_prefix(layer);
  if (o.bit == kFusedGateUp) {
    // phi3: no ffn_gate, and ffn_up is twice the FFN width (gate rows, then up rows).
    const gguf::TensorInfo* up = f.find_tensor(p + "ffn_up.weight");
    if (f.find_tensor(p + "ffn_gate.weight") == nullptr && up != nullptr && up->dims.size() == 2 &&
        up->dims[1] == 2 * int64_t(c.ffn_dim)) {
      return p + "ffn_up.weight";
    }
    return "";
  }
  for (std::string_view name : o.names) {
    if (!name.empty() && f.find_tensor(p + std::string(name)) != nullptr) return p + std::string(name);
  }
  return "";
}

}  // namespace

std::string_view layer_tensor_name(LayerTensor bit) {
  for (const auto& o : kOptionalTensors) {
    if (o.bit == bit) return o.what;
  }
  return "an optional tensor";
}

int ModelConfig::n_sliding_window_layers() const {
  int n = 0;
  for (const LayerSpec& l : layers) n += l.attention == AttentionKind::kSlidingWindow;
  return n;
}

Result<ModelConfig> read_model_config(const gguf::GgufFile& f) {
  ModelConfig c;
  LLMOS_ASSIGN_OR_RETURN(static_cast<model::Hyperparameters&>(c), model::read_hyperparameters(f));
  c.layers.resize(size_t(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    LayerSpec& l = c.layers[size_t(i)];
    l.rope_freq_base = c.rope_freq_base;
    l.rope_freq_scale = c.rope_freq_scale;
    for (const auto& o : kOptionalTensors) {
      if (!present_tensor(f, c, i, o).empty()) l.tensors |= o.bit;
    }
  }
  return c;
}

Status check_layer_tensors(const gguf::GgufFile& f, const ModelConfig& c, uint32_t runs, std::string_view family) {
  for (int i = 0; i < c.n_layers; ++i) {
    const uint32_t extra = c.layers[size_t(i)].tensors & ~runs;
    if (extra == 0) continue;
    for (const auto& o : kOptionalTensors) {
      if ((extra & o.bit) == 0) continue;
      return unimplemented(f.path() + ": tensor '" + present_tensor(f, c, i, o) + "' (" + std::string(o.what) +
                           ") is not supported by llmos's " + std::string(family) + " family yet");
    }
  }
  return ok_status();
}

Status check_rope_scaling(const gguf::GgufFile& f, const ModelConfig& c, std::string_view family,
                          bool rope_freqs_ok) {
  const std::string key = c.architecture + ".rope.scaling.type";
  const std::string& type = c.rope_scaling_type;
  if (!type.empty() && type != "none" && type != "linear") {
    return unimplemented(f.path() + ": key '" + key + "' = '" + type + "' (rope scaling) is not supported by " +
                         "llmos's " + std::string(family) + " family yet (it runs none and linear)");
  }
  for (const char* name : {"rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight"}) {
    if (rope_freqs_ok && std::string_view(name) == "rope_freqs.weight") continue;
    if (f.find_tensor(name) != nullptr) {
      return unimplemented(f.path() + ": tensor '" + name + "' (rope scaling) is not supported by llmos's " +
                           std::string(family) + " family yet");
    }
  }
  return ok_status();
}

Status check_experts(const gguf::GgufFile& f, const ModelConfig& c) {
  for (int i = 0; i < c.n_layers; ++i) {
    const bool has = (c.layers[size_t(i)].tensors & kExperts) != 0;
    if (has && c.n_experts == 0) {
      return invalid_argument(f.path() + ": layer " + std::to_string(i) + " has experts but the file has no key '" +
                              c.architecture + ".expert_count'");
    }
    if (!has && c.n_experts > 0) {
      return not_found(f.path() + ": missing tensor '" + layer_prefix(i) + "ffn_gate_inp.weight' (key '" +
                       c.architecture + ".expert_count' = " + std::to_string(c.n_experts) + ")");
    }
  }
  return ok_status();
}

}  // namespace llmos::engine
