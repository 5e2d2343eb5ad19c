#include "llmos/model/hyperparameters.hpp"

#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::model {
namespace {

std::string quote(const std::string& key) { return "'" + key + "'"; }

// A required positive integer key in [1, max_value].
Result<int> read_count(const gguf::GgufFile& f, const std::string& key, int max_value) {
  LLMOS_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(key));
  if (v == 0 || v > uint64_t(max_value)) {
    return invalid_argument(f.path() + ": key " + quote(key) + " = " + std::to_string(v) +
                            " is out of range [1, " + std::to_string(max_value) + "]");
  }
  return int(v);
}

// An optional one: `fallback` when the file lacks it.
Result<int> read_count_or(const gguf::GgufFile& f, const std::string& key, int max_value, int fallback) {
  if (!f.has(key)) return fallback;
  return read_count(f, key, max_value);
}

Status check_multiple(const gguf::GgufFile& f, const std::string& key, int value, const std::string& of_key,
                      int of, const std::string& why) {
  if (value % of == 0) return ok_status();
  return invalid_argument(f.path() + ": key " + quote(key) + " = " + std::to_string(value) +
                          " is not a multiple of " + quote(of_key) + " = " + std::to_string(of) + why);
}

}  // namespace

Result<Hyperparameters> read_hyperparameters(const gguf::GgufFile& f) {
  Hyperparameters h;
  LLMOS_ASSIGN_OR_RETURN(std::string_view arch, f.get_string("general.architecture"));
  if (arch.empty()) return invalid_argument(f.path() + ": key 'general.architecture' is empty");
  h.architecture = std::string(arch);
  if (f.has("general.name")) {
    auto name = f.get_string("general.name");
    if (name.ok()) h.name = std::string(*name);
  }
  const std::string p = h.architecture + ".";
  LLMOS_ASSIGN_OR_RETURN(h.dim, read_count(f, p + "embedding_length", 1 << 16));
  LLMOS_ASSIGN_OR_RETURN(h.n_layers, read_count(f, p + "block_count", 1024));
  LLMOS_ASSIGN_OR_RETURN(h.n_heads, read_count(f, p + "attention.head_count", 1024));
  LLMOS_ASSIGN_OR_RETURN(h.ffn_dim, read_count(f, p + "feed_forward_length", 1 << 20));
  LLMOS_ASSIGN_OR_RETURN(h.ctx_len, read_count(f, p + "context_length", 1 << 24));
  LLMOS_ASSIGN_OR_RETURN(h.n_kv_heads, read_count_or(f, p + "attention.head_count_kv", h.n_heads, h.n_heads));
  LLMOS_RETURN_IF_ERROR(check_multiple(f, p + "attention.head_count", h.n_heads, p + "attention.head_count_kv",
                                       h.n_kv_heads, ""));
  if (f.has(p + "attention.key_length")) {
    LLMOS_ASSIGN_OR_RETURN(h.head_dim, read_count(f, p + "attention.key_length", 4096));
  } else {
    LLMOS_RETURN_IF_ERROR(check_multiple(f, p + "embedding_length", h.dim, p + "attention.head_count", h.n_heads,
                                         " (and the file has no " + quote(p + "attention.key_length") + ")"));
    h.head_dim = h.dim / h.n_heads;
  }
  LLMOS_ASSIGN_OR_RETURN(h.v_head_dim, read_count_or(f, p + "attention.value_length", 4096, h.head_dim));
  LLMOS_ASSIGN_OR_RETURN(h.rope_dim, read_count_or(f, p + "rope.dimension_count", h.head_dim, h.head_dim));
  if (h.rope_dim % 2 != 0) {
    return invalid_argument(f.path() + ": key " + quote(p + "rope.dimension_count") + " = " +
                            std::to_string(h.rope_dim) + " is odd");
  }
  if (f.has(p + "rope.freq_base")) {
    LLMOS_ASSIGN_OR_RETURN(h.rope_freq_base, f.get_float(p + "rope.freq_base"));
    if (!(h.rope_freq_base > 1.0f)) {
      return invalid_argument(f.path() + ": key " + quote(p + "rope.freq_base") + " must be > 1");
    }
  }
  if (f.has(p + "attention.layer_norm_rms_epsilon")) {
    LLMOS_ASSIGN_OR_RETURN(h.rms_eps, f.get_float(p + "attention.layer_norm_rms_epsilon"));
    if (!(h.rms_eps > 0.0f && h.rms_eps < 1.0f)) {
      return invalid_argument(f.path() + ": key " + quote(p + "attention.layer_norm_rms_epsilon") +
                              " is out of range (0, 1)");
    }
  }
  if (f.has(p + "expert_count")) {
    LLMOS_ASSIGN_OR_RETURN(uint64_t n, f.get_uint(p + "expert_count"));
    if (n > 1024) {
      return invalid_argument(f.path() + ": key " + quote(p + "expert_count") + " = " + std::to_string(n) +
                              " is out of range [0, 1024]");
    }
    h.n_experts = int(n);
  }
  if (h.n_experts > 0) {
    LLMOS_ASSIGN_OR_RETURN(h.n_experts_used, read_count(f, p + "expert_used_count", h.n_experts));
    LLMOS_ASSIGN_OR_RETURN(h.expert_ffn_dim, read_count_or(f, p + "expert_feed_forward_length", 1 << 20, h.ffn_dim));
  }
  if (f.has(p + "attention.sliding_window")) {
    LLMOS_ASSIGN_OR_RETURN(uint64_t w, f.get_uint(p + "attention.sliding_window"));
    if (w > uint64_t(h.ctx_len)) {
      return invalid_argument(f.path() + ": key " + quote(p + "attention.sliding_window") + " = " +
                              std::to_string(w) + " is out of range [0, " + std::to_string(h.ctx_len) +
                              "] (the context length)");
    }
    h.sliding_window = int(w);
  }
  // Gemma 3: five local layers, then a global one (the files have no key for it).
  if (h.architecture == "gemma3") h.sliding_window_pattern = 6;
  if (f.has(p + "rope.scaling.type")) {
    LLMOS_ASSIGN_OR_RETURN(std::string_view type, f.get_string(p + "rope.scaling.type"));
    h.rope_scaling_type = std::string(type);
  }
  if (f.has(p + "rope.scaling.factor")) {
    LLMOS_ASSIGN_OR_RETURN(float factor, f.get_float(p + "rope.scaling.factor"));
    if (!(factor >= 0.0f && factor <= 1e6f)) {
      return invalid_argument(f.path() + ": key " + quote(p + "rope.scaling.factor") + " is out of range [0, 1e6]");
    }
    // As llama.cpp: 0 means none; the type "none" turns the factor off.
    const bool linear = h.rope_scaling_type.empty() || h.rope_scaling_type == "linear";
    if (factor > 0.0f && linear) h.rope_freq_scale = 1.0f / factor;
  }
  if (f.has(p + "rope.freq_base_swa")) {
    LLMOS_ASSIGN_OR_RETURN(h.rope_freq_base_swa, f.get_float(p + "rope.freq_base_swa"));
    if (!(h.rope_freq_base_swa > 1.0f)) {
      return invalid_argument(f.path() + ": key " + quote(p + "rope.freq_base_swa") + " must be > 1");
    }
  }
  // The vocabulary size is the embedding table's row count (checked against
  // the tokenizer's token list by whoever pairs the two).
  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return not_found(f.path() + ": missing tensor 'token_embd.weight'");
  if (embd->dims.size() != 2 || embd->dims[1] <= 0 || embd->dims[1] > (int64_t(1) << 30)) {
    return invalid_argument(f.path() + ": tensor 'token_embd.weight' must be 2-D with 1 to 2^30 rows");
  }
  h.n_vocab = int(embd->dims[1]);
  h.tied_output = f.find_tensor("output.weight") == nullptr;
  return h;
}

}  // namespace llmos::model
