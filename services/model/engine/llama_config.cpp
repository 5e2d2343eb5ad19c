#include "llmos/engine/llama_config.hpp"

#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {
namespace {

Result<int> read_dim(const gguf::GgufFile& f, const std::string& key, int max_value) {
  LLMOS_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(key));
  if (v == 0 || v > uint64_t(max_value)) {
    return invalid_argument(f.path() + ": key '" + key + "' = " + std::to_string(v) +
                            " is out of range [1, " + std::to_string(max_value) + "]");
  }
  return int(v);
}

}  // namespace

Result<LlamaConfig> read_llama_config(const gguf::GgufFile& f) {
  LlamaConfig c;
  LLMOS_ASSIGN_OR_RETURN(std::string_view arch, f.get_string("general.architecture"));
  c.architecture = std::string(arch);
  if (c.architecture != "llama" && c.architecture != "mistral") {
    return unimplemented(f.path() + ": architecture '" + c.architecture +
                         "' is not supported (llmos runs the llama family)");
  }
  if (f.has("general.name")) {
    auto name = f.get_string("general.name");
    if (name.ok()) c.name = std::string(*name);
  }
  const std::string p = c.architecture + ".";
  LLMOS_ASSIGN_OR_RETURN(c.dim, read_dim(f, p + "embedding_length", 1 << 16));
  LLMOS_ASSIGN_OR_RETURN(c.n_layers, read_dim(f, p + "block_count", 1024));
  LLMOS_ASSIGN_OR_RETURN(c.n_heads, read_dim(f, p + "attention.head_count", 1024));
  LLMOS_ASSIGN_OR_RETURN(c.ffn_dim, read_dim(f, p + "feed_forward_length", 1 << 20));
  LLMOS_ASSIGN_OR_RETURN(c.ctx_len, read_dim(f, p + "context_length", 1 << 24));
  c.n_kv_heads = c.n_heads;
  if (f.has(p + "attention.head_count_kv")) {
    LLMOS_ASSIGN_OR_RETURN(c.n_kv_heads, read_dim(f, p + "attention.head_count_kv", c.n_heads));
  }
  if (c.dim % c.n_heads != 0) {
    return invalid_argument(f.path() + ": embedding_length " + std::to_string(c.dim) +
                            " is not a multiple of head_count " + std::to_string(c.n_heads));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return invalid_argument(f.path() + ": head_count " + std::to_string(c.n_heads) +
                            " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads));
  }
  c.head_dim = c.dim / c.n_heads;
  c.rope_dim = c.head_dim;
  if (f.has(p + "rope.dimension_count")) {
    LLMOS_ASSIGN_OR_RETURN(c.rope_dim, read_dim(f, p + "rope.dimension_count", c.head_dim));
    if (c.rope_dim % 2 != 0) {
      return invalid_argument(f.path() + ": rope.dimension_count " + std::to_string(c.rope_dim) + " is odd");
    }
  }
  if (f.has(p + "rope.freq_base")) {
    LLMOS_ASSIGN_OR_RETURN(c.rope_freq_base, f.get_float(p + "rope.freq_base"));
    if (!(c.rope_freq_base > 1.0f)) return invalid_argument(f.path() + ": rope.freq_base must be > 1");
  }
  if (f.has(p + "attention.layer_norm_rms_epsilon")) {
    LLMOS_ASSIGN_OR_RETURN(c.rms_eps, f.get_float(p + "attention.layer_norm_rms_epsilon"));
    if (!(c.rms_eps > 0.0f && c.rms_eps < 1.0f)) {
      return invalid_argument(f.path() + ": attention.layer_norm_rms_epsilon out of range");
    }
  }
  // The vocabulary size is the embedding table's row count (checked against
  // the tokenizer's token list by whoever pairs the two).
  const auto* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return not_found(f.path() + ": missing tensor 'token_embd.weight'");
  if (embd->dims.size() != 2) {
    return invalid_argument(f.path() + ": tensor 'token_embd.weight' must be 2-D");
  }
  c.n_vocab = int(embd->dims[1]);
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  return c;
}

}  // namespace llmos::engine
