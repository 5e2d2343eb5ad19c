#include "model_inspector.hpp"

#include "llmos/engine/llama_config.hpp"
#include "llmos/gguf/gguf_file.hpp"

namespace llmos::kernel {

Result<ModelFacts> inspect_model(const std::string& path, uint32_t ctx, uint32_t block_size) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  LLMOS_ASSIGN_OR_RETURN(auto config, engine::read_llama_config(*file));
  // The vocabulary's size only: llmos-io reads and checks the tokens themselves
  // when it loads them (and says why, naming the file and key, if they are bad).
  LLMOS_ASSIGN_OR_RETURN(auto tokens, file->get_string_array("tokenizer.ggml.tokens"));
  if (tokens.empty()) return invalid_argument(path + ": tokenizer.ggml.tokens is empty");
  const auto* embd = file->find_tensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) {
    return invalid_argument(path + ": tensor 'token_embd.weight' is missing or not 2-D");
  }
  if (int64_t(tokens.size()) != embd->dims[1]) {
    return invalid_argument(path + ": the vocabulary has " + std::to_string(tokens.size()) +
                            " tokens but token_embd.weight has " + std::to_string(embd->dims[1]) + " rows");
  }
  ModelFacts f;
  f.path = path;
  f.model_ctx = uint32_t(config.ctx_len);
  f.ctx = ctx == 0 ? f.model_ctx : ctx;
  if (f.ctx < 2) return invalid_argument(path + ": a context of " + std::to_string(f.ctx) + " tokens is too small");
  if (f.ctx > f.model_ctx) {
    return invalid_argument(path + ": a context of " + std::to_string(f.ctx) +
                            " tokens exceeds the model's context_length of " + std::to_string(f.model_ctx));
  }
  f.vocab_size = uint32_t(tokens.size());
  f.kv.n_layers = config.n_layers;
  f.kv.n_kv_heads = config.n_kv_heads;
  f.kv.head_dim = config.head_dim;
  f.kv.type = DType::kF16;
  f.kv.block_size = int32_t(block_size);
  f.kv = kv_geometry_for_tokens(f.kv, f.ctx);
  f.memory.weights_bytes = file->total_tensor_bytes();
  f.memory.kv_bytes = f.kv.bytes();
  return f;
}

}  // namespace llmos::kernel
