// What the engine knows of a loaded model: the family-neutral hyper-parameters
// (llmos/model/hyperparameters.hpp) plus one LayerSpec per layer, which the
// model's family fills in and the KV cache and scheduler may read (how far back
// a layer attends, which optional tensors it has). A plain value: thread-safe to read.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/model/hyperparameters.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::engine {

enum class AttentionKind {
  kGlobal,         // every earlier position of the sequence
  kSlidingWindow,  // the last `window` positions, this one included
};

// Optional per-layer tensors, by their GGUF name under "blk.N.". A family runs
// the ones it knows and refuses a file holding any other (LayerSpec::tensors).
enum LayerTensor : uint32_t {
  kQkvBias = 1u << 0,         // attn_q.bias, attn_k.bias, attn_v.bias (qwen2)
  kQkNorm = 1u << 1,          // attn_q_norm, attn_k_norm: per-head RMS norms (qwen3, gemma3)
  kPostNorms = 1u << 2,       // post_attention_norm, post_ffw_norm (gemma3)
  kFusedQkv = 1u << 3,        // attn_qkv instead of attn_q/k/v (phi3)
  kFusedGateUp = 1u << 4,     // ffn_up holds gate and up, no ffn_gate (phi3)
  kExperts = 1u << 5,         // ffn_gate_inp router and ffn_*_exps experts (mixtral, qwen3moe)
  kOutputBias = 1u << 6,      // attn_output.bias
};
// "attn_q.bias" etc.: the tensor that shows `bit` is present, for messages.
std::string_view layer_tensor_name(LayerTensor bit);

struct LayerSpec {
  AttentionKind attention = AttentionKind::kGlobal;
  int window = 0;                   // kSlidingWindow: positions attended; 0 otherwise
  float rope_freq_base = 10000.0f;  // this layer's RoPE base (gemma3 differs per layer kind)
  float rope_freq_scale = 1.0f;     // this layer's linear rope scaling (gemma3's local layers: none)
  uint32_t tensors = 0;             // LayerTensor bits the file has for this layer
};

struct ModelConfig : model::Hyperparameters {
  std::vector<LayerSpec> layers;  // [n_layers]

  // Positions layer `layer` attends back to (this one included); 0 = all of them.
  int attention_window(int layer) const {
    const LayerSpec& l = layers[size_t(layer)];
    return l.attention == AttentionKind::kSlidingWindow ? l.window : 0;
  }
  // Number of layers whose attention is a sliding window.
  int n_sliding_window_layers() const;
};

// The hyper-parameters of `file` and a LayerSpec per layer as its tensors show
// them: global attention at the file's rope base, and the optional tensors each
// layer has. A family then sets what only it knows (window pattern, per-kind
// rope bases). Errors as model::read_hyperparameters.
Result<ModelConfig> read_model_config(const gguf::GgufFile& file);

// unimplemented naming the file and the first tensor of a layer that holds an
// optional tensor outside `runs` (a LayerTensor mask), or ok.
Status check_layer_tensors(const gguf::GgufFile& file, const ModelConfig& config, uint32_t runs,
                           std::string_view family);

// unimplemented naming the key or tensor when the file asks for a rope scaling
// other than none or linear (`<arch>.rope.scaling.type`, Phi-3's long/short rope factors).
// Llama 3's rope_freqs tensor is the llama family's to run, so it passes here
// only when `rope_freqs_ok`.
Status check_rope_scaling(const gguf::GgufFile& file, const ModelConfig& config, std::string_view family,
                          bool rope_freqs_ok);

// invalid_argument when the expert keys and tensors disagree: a layer with a
// router but no `<arch>.expert_count`, or an expert_count with a layer lacking
// its router.
Status check_experts(const gguf::GgufFile& file, const ModelConfig& config);

}  // namespace llmos::engine
