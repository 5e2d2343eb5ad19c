// Hyperparameters of a llama-family model, read and validated from GGUF metadata.
// A plain value: copy freely, thread-safe to read.
#pragma once
#include <cstdint>
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::engine {

struct LlamaConfig {
  std::string architecture;  // "llama" (Llama 1/2/3, TinyLlama, Mistral-style GQA)
  std::string name;          // general.name, may be empty
  int n_vocab = 0;
  int dim = 0;         // embedding_length
  int n_layers = 0;    // block_count
  int n_heads = 0;     // attention.head_count
  int n_kv_heads = 0;  // attention.head_count_kv (GQA when < n_heads)
  int head_dim = 0;    // dim / n_heads
  int ffn_dim = 0;     // feed_forward_length
  int ctx_len = 0;     // context_length the model was trained for
  int rope_dim = 0;    // rope.dimension_count (defaults to head_dim)
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // true when output.weight is absent (token_embd reused)

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

// Reads `<arch>.*` keys; errors name the file and key. Tensor shapes are
// checked later, when the weights are bound (llama_model.cpp).
Result<LlamaConfig> read_llama_config(const gguf::GgufFile& file);

}  // namespace llmos::engine
