// Reading a Vocabulary from GGUF metadata (the `tokenizer.ggml.*` keys), with
// llama.cpp's defaults for keys a file leaves out.
#include <limits>

#include "llmos/gguf/gguf_file.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::tokenizer {
namespace {

Result<TokenId> read_special_id(const gguf::GgufFile& file, std::string_view key, TokenId fallback,
                                size_t n_tokens) {
  if (!file.has(key)) return fallback;
  LLMOS_ASSIGN_OR_RETURN(uint64_t id, file.get_uint(key));
  if (id >= n_tokens) {
    return invalid_argument(file.path() + ": " + std::string(key) + " = " + std::to_string(id) +
                            " is not a token id (the vocabulary has " + std::to_string(n_tokens) +
                            " tokens)");
  }
  return static_cast<TokenId>(id);
}

Result<bool> read_flag(const gguf::GgufFile& file, std::string_view key, bool fallback) {
  if (!file.has(key)) return fallback;
  return file.get_bool(key);
}

}  // namespace

Result<Vocabulary> vocabulary_from_gguf(const gguf::GgufFile& file) {
  LLMOS_ASSIGN_OR_RETURN(std::string_view model, file.get_string("tokenizer.ggml.model"));
  if (model != "llama") {
    return unimplemented(file.path() + ": tokenizer.ggml.model = \"" + std::string(model) +
                         "\" is not supported (only \"llama\", SentencePiece, is)");
  }
  Vocabulary v;
  v.source = file.path();
  {
    LLMOS_ASSIGN_OR_RETURN(std::vector<std::string_view> tokens,
                           file.get_string_array("tokenizer.ggml.tokens"));
    if (tokens.size() > static_cast<size_t>(std::numeric_limits<TokenId>::max())) {
      return invalid_argument(file.path() + ": tokenizer.ggml.tokens has too many entries (" +
                              std::to_string(tokens.size()) + ")");
    }
    v.tokens.reserve(tokens.size());
    for (std::string_view t : tokens) {
      // As llama.cpp does, so that an empty entry still has a visible name.
      v.tokens.push_back(t.empty() ? "[EMPTY_" + std::to_string(v.tokens.size()) + "]"
                                   : std::string(t));
    }
  }
  const size_t n = v.tokens.size();
  if (file.has("tokenizer.ggml.scores")) {
    LLMOS_ASSIGN_OR_RETURN(v.scores, file.get_float_array("tokenizer.ggml.scores"));
  } else {
    v.scores.assign(n, 0.0f);
  }
  if (file.has("tokenizer.ggml.token_type")) {
    LLMOS_ASSIGN_OR_RETURN(std::vector<int32_t> types, file.get_int_array("tokenizer.ggml.token_type"));
    v.types.reserve(types.size());
    for (int32_t t : types) v.types.push_back(static_cast<TokenType>(t));
  } else {
    v.types.assign(n, TokenType::kNormal);
  }
  LLMOS_ASSIGN_OR_RETURN(v.bos_id, read_special_id(file, "tokenizer.ggml.bos_token_id", 1, n));
  LLMOS_ASSIGN_OR_RETURN(v.eos_id, read_special_id(file, "tokenizer.ggml.eos_token_id", 2, n));
  LLMOS_ASSIGN_OR_RETURN(v.unk_id, read_special_id(file, "tokenizer.ggml.unknown_token_id", 0, n));
  LLMOS_ASSIGN_OR_RETURN(v.add_space_prefix, read_flag(file, "tokenizer.ggml.add_space_prefix", true));
  LLMOS_ASSIGN_OR_RETURN(v.add_bos, read_flag(file, "tokenizer.ggml.add_bos_token", true));
  return v;
}

Result<Tokenizer> tokenizer_from_gguf(const gguf::GgufFile& file) {
  LLMOS_ASSIGN_OR_RETURN(Vocabulary vocab, vocabulary_from_gguf(file));
  return Tokenizer::create(std::move(vocab));
}

}  // namespace llmos::tokenizer
