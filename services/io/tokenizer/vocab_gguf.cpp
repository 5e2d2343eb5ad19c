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

Result<std::string> read_string(const gguf::GgufFile& file, std::string_view key) {
  if (!file.has(key)) return std::string();
  LLMOS_ASSIGN_OR_RETURN(std::string_view value, file.get_string(key));
  return std::string(value);
}

// llama.cpp turns add_bos on by default for these pre-tokenizers only.
bool bpe_adds_bos_by_default(std::string_view pre) {
  for (std::string_view name : {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                                "midm-2.0", "lfm2", "tekken", "chameleon", "gemma4"}) {
    if (pre == name) return true;
  }
  return false;
}

}  // namespace

Result<Vocabulary> vocabulary_from_gguf(const gguf::GgufFile& file) {
  LLMOS_ASSIGN_OR_RETURN(std::string_view model, file.get_string("tokenizer.ggml.model"));
  Vocabulary v;
  v.source = file.path();
  if (model == "llama") {
    v.kind = VocabKind::kSentencePiece;
  } else if (model == "gpt2" || model == "gemma4") {
    v.kind = VocabKind::kBytePairs;
  } else {
    return unimplemented(file.path() + ": tokenizer.ggml.model = \"" + std::string(model) +
                         "\" is not supported (\"llama\", \"gpt2\" and \"gemma4\" are)");
  }
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
  LLMOS_ASSIGN_OR_RETURN(v.model_name, read_string(file, "general.name"));
  if (v.kind == VocabKind::kSentencePiece) {
    LLMOS_ASSIGN_OR_RETURN(v.bos_id, read_special_id(file, "tokenizer.ggml.bos_token_id", 1, n));
    LLMOS_ASSIGN_OR_RETURN(v.eos_id, read_special_id(file, "tokenizer.ggml.eos_token_id", 2, n));
    LLMOS_ASSIGN_OR_RETURN(v.unk_id, read_special_id(file, "tokenizer.ggml.unknown_token_id", 0, n));
    LLMOS_ASSIGN_OR_RETURN(v.add_space_prefix, read_flag(file, "tokenizer.ggml.add_space_prefix", true));
    LLMOS_ASSIGN_OR_RETURN(v.add_bos, read_flag(file, "tokenizer.ggml.add_bos_token", true));
  } else {
    if (model == "gemma4") {
      v.pre = "gemma4";
    } else {
      LLMOS_ASSIGN_OR_RETURN(v.pre, read_string(file, "tokenizer.ggml.pre"));
      if (v.pre.empty()) v.pre = "default";  // llama.cpp warns and does the same
    }
    // gpt2's defaults (11, as in llama.cpp) only where the vocabulary has them.
    const TokenId fallback = model == "gpt2" && n > 11 ? 11 : -1;
    LLMOS_ASSIGN_OR_RETURN(v.bos_id, read_special_id(file, "tokenizer.ggml.bos_token_id", fallback, n));
    LLMOS_ASSIGN_OR_RETURN(v.eos_id, read_special_id(file, "tokenizer.ggml.eos_token_id", fallback, n));
    LLMOS_ASSIGN_OR_RETURN(v.unk_id, read_special_id(file, "tokenizer.ggml.unknown_token_id", -1, n));
    LLMOS_ASSIGN_OR_RETURN(v.add_space_prefix, read_flag(file, "tokenizer.ggml.add_space_prefix", false));
    LLMOS_ASSIGN_OR_RETURN(v.add_bos,
                           read_flag(file, "tokenizer.ggml.add_bos_token", bpe_adds_bos_by_default(v.pre)));
    if (v.pre == "gemma4") v.add_bos = true;  // llama.cpp overrides it for Gemma 4
    LLMOS_ASSIGN_OR_RETURN(std::vector<std::string_view> merges,
                           file.get_string_array("tokenizer.ggml.merges"));
    v.merges.assign(merges.begin(), merges.end());
  }
  LLMOS_ASSIGN_OR_RETURN(v.add_eos, read_flag(file, "tokenizer.ggml.add_eos_token", false));
  return v;
}

Result<Tokenizer> tokenizer_from_gguf(const gguf::GgufFile& file) {
  LLMOS_ASSIGN_OR_RETURN(Vocabulary vocab, vocabulary_from_gguf(file));
  return Tokenizer::create(std::move(vocab));
}

}  // namespace llmos::tokenizer
