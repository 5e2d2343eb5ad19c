// The model synthesizer: writes a seeded random GGUF v3 model of any shape, of
// architecture llama, qwen3 or qwen3moe (presets tiny / 110m / 1b / qwen3-0.6b /
// qwen3moe-small), that llmos and llama.cpp can load. Weights
// are generated and quantized row by row straight into the file, so a model larger
// than memory can be written. Pure functions of their arguments: thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
#include "llmos/quantize/quant_mix.hpp"

namespace llmos::modelgen {

struct ModelSpec {
  std::string name = "llmos-synthetic";
  int dim = 64;          // embedding length
  int n_layers = 2;
  int n_heads = 4;
  int n_kv_heads = 2;
  int ffn_dim = 192;     // feed-forward hidden size
  int vocab_size = 512;
  int context_length = 256;
  DType type = DType::kF32;  // of every weight except the norms and routers (always f32)
  // When set, each weight's type follows this llama.cpp-style mix (Q6_K output,
  // raised attn_v / ffn_down, fallbacks; quantize::tensor_type) and `type` is unused.
  std::optional<quantize::Mix> mix;
  uint64_t seed = 1;
  // Other families: "qwen3" adds per-head q/k norms, "qwen3moe" those and experts.
  std::string architecture = "llama";
  int key_length = 0;        // attention.key_length (head dim); 0 = dim / n_heads
  bool tied_output = false;  // no output.weight: logits from token_embd
  int n_experts = 0;         // qwen3moe: experts per layer
  int n_experts_used = 0;    // qwen3moe: experts each token runs
  int expert_ffn_dim = 0;    // qwen3moe: one expert's FFN width
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;

  int head_dim() const { return key_length > 0 ? key_length : dim / n_heads; }
};

// The named presets "tiny", "110m", "1b" (llama), "qwen3-0.6b" (Qwen3-0.6B's
// layers: 28 x dim 1024, 16 query / 8 KV heads of 128, FFN 3072, tied output,
// with a 100000-token synthetic vocabulary instead of Qwen's 151936) and
// "qwen3moe-small" (16 x dim 1024, 16 / 4 heads of 128, 8 experts of FFN 1024,
// 2 used per token, vocabulary 32000); invalid_argument for other names.
Result<ModelSpec> preset_spec(std::string_view name);
// "f32", "f16", "bf16", "q8_0", "q4_0" -> DType; invalid_argument otherwise.
Result<DType> parse_weight_type(std::string_view name);
// Checks the shape is one llama.cpp can run: positive sizes, heads dividing dim,
// kv heads dividing heads, even head_dim, dim and ffn_dim multiples of the weight
// type's block size (with a mix: of 32, the fallback types' block), a vocabulary
// of at least 259 tokens (3 special + 256 bytes).
Status validate_spec(const ModelSpec& spec);
// GGML's general.file_type for a model whose weights are `type` (0 f32, 1 f16,
// 7 q8_0, 2 q4_0, 32 bf16).
uint32_t ggml_file_type(DType type);
// Bytes the model file will take (the tensor data, without header and padding).
uint64_t weight_bytes(const ModelSpec& spec);

// Writes the model to `path` and returns the file size. Same spec -> same bytes.
// Errors: invalid_argument (bad spec), failed (the file cannot be written).
Result<uint64_t> write_model(const ModelSpec& spec, const std::string& path);

}  // namespace llmos::modelgen
