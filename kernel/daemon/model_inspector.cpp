#include "model_inspector.hpp"

#include "llmos/gguf/gguf_file.hpp"
#include "llmos/model/hyperparameters.hpp"
#include "llmos/model/memory_estimate.hpp"

namespace llmos::kernel {

Result<ModelFacts> inspect_model(const std::string& path, uint32_t ctx, uint32_t block_size, uint32_t max_seqs) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  LLMOS_ASSIGN_OR_RETURN(auto config, model::read_hyperparameters(*file));
  // The vocabulary's size only: the model service and llmos-io read and check
  // the tokens themselves (and say why, naming the file and key, if they are bad).
  LLMOS_ASSIGN_OR_RETURN(auto tokens, file->get_string_array("tokenizer.ggml.tokens"));
  if (tokens.empty()) return invalid_argument(path + ": tokenizer.ggml.tokens is empty");
  if (int64_t(tokens.size()) != int64_t(config.n_vocab)) {
    return invalid_argument(path + ": the vocabulary has " + std::to_string(tokens.size()) +
                            " tokens but token_embd.weight has " + std::to_string(config.n_vocab) + " rows");
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
  LLMOS_ASSIGN_OR_RETURN(f.kv, model::kv_cache_geometry(config, f.ctx, block_size, DType::kF16, max_seqs));
  LLMOS_ASSIGN_OR_RETURN(auto memory,
                         model::estimate_model_memory(*file, config, f.ctx, block_size, DType::kF16, max_seqs));
  f.memory.weights_bytes = memory.weights_bytes;
  f.memory.kv_bytes = memory.kv_bytes;
  return f;
}

}  // namespace llmos::kernel
