// The family-neutral hyper-parameters of a model file, read and validated from
// its GGUF metadata (`general.architecture` and the `<arch>.*` keys every
// transformer family writes), and the keys some families add (expert widths,
// sliding windows, a second rope base); the engine family decides how to use them.
// A plain value: copy freely, thread-safe to read.
#pragma once
#include <cstdint>
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::model {

struct Hyperparameters {
  std::string architecture;  // general.architecture: "llama", "mistral", "qwen3", ...
  std::string name;          // general.name, may be empty
  int n_vocab = 0;     // rows of token_embd.weight (the logits' width)
  int dim = 0;         // embedding_length
  int n_layers = 0;    // block_count
  int n_heads = 0;     // attention.head_count
  int n_kv_heads = 0;  // attention.head_count_kv (GQA when < n_heads), else n_heads
  int head_dim = 0;    // attention.key_length, else dim / n_heads
  int v_head_dim = 0;  // attention.value_length, else head_dim
  int ffn_dim = 0;     // feed_forward_length
  int ctx_len = 0;     // context_length the model was trained for
  int rope_dim = 0;    // rope.dimension_count, else head_dim
  float rope_freq_base = 10000.0f;  // rope.freq_base
  float rms_eps = 1e-5f;            // attention.layer_norm_rms_epsilon
  int n_experts = 0;       // expert_count; 0 = a dense feed-forward
  int n_experts_used = 0;  // expert_used_count (experts each token runs), when n_experts > 0
  int expert_ffn_dim = 0;  // expert_feed_forward_length, else feed_forward_length (when n_experts > 0)
  int sliding_window = 0;  // attention.sliding_window: positions a local layer sees; 0 = none
  // Which layers are local (see is_sliding_window_layer): in every run of this
  // many layers all but the last are; 0 = none (the file's window unused).
  // Files carry no key for it: set by architecture (gemma3: 6, as llama.cpp).
  int sliding_window_pattern = 0;
  float rope_freq_base_swa = 0.0f;  // rope.freq_base_swa (gemma3's local layers); 0 = absent
  std::string rope_scaling_type;    // rope.scaling.type; "" = absent (llama.cpp then reads it as linear)
  // Linear rope scaling: 1 / rope.scaling.factor, when the type is absent or
  // "linear" and the factor is present; 1 otherwise.
  float rope_freq_scale = 1.0f;
  bool tied_output = false;  // true when output.weight is absent (token_embd reused)

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  int v_dim() const { return n_kv_heads * v_head_dim; }
  // Whether layer `layer` attends only the last sliding_window positions.
  bool is_sliding_window_layer(int layer) const {
    return sliding_window > 0 && sliding_window_pattern > 0 && layer % sliding_window_pattern < sliding_window_pattern - 1;
  }
};

// Reads `general.architecture` and the `<arch>.*` keys above, for any
// architecture (whether llmos runs it is the engine's question). Errors name
// the file and the key: not_found for a missing required key or tensor,
// invalid_argument for a value of the wrong type or out of range.
Result<Hyperparameters> read_hyperparameters(const gguf::GgufFile& file);

}  // namespace llmos::model
