// A tokenizer vocabulary as plain data: token texts, scores, types, BPE merges
// and special ids, exactly as a GGUF file stores them (SentencePiece "llama",
// byte-level BPE "gpt2", or Gemma 4's BPE over raw UTF-8 "gemma4"). A Vocabulary owns
// its strings; it is a plain value (copy or move it between threads freely).
// Tokenizer::create validates it; vocabulary_from_gguf reads it from a file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::tokenizer {

using TokenId = int32_t;

// Values of GGUF `tokenizer.ggml.token_type` (SentencePiece piece types).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,       // ordinary piece; '▁' (U+2581) stands for a space
  kUnknown = 2,      // <unk>: decodes to nothing
  kControl = 3,      // <s>, </s>: decodes to nothing, never produced by encode
  kUserDefined = 4,  // always matched verbatim in text, decodes to its text
  kUnused = 5,       // decodes to nothing
  kByte = 6,         // <0xXX>: byte-fallback piece, decodes to that byte
};

// How text becomes tokens (from `tokenizer.ggml.model`).
enum class VocabKind {
  kSentencePiece,  // "llama": score-driven merges over '▁'-escaped text, byte fallback
  kBytePairs,      // "gpt2" / "gemma4": merges by rank after a pre-tokenizer split
};

struct Vocabulary {
  VocabKind kind = VocabKind::kSentencePiece;
  // Where the vocabulary came from (a file path); error messages name it.
  std::string source = "<vocabulary>";
  std::vector<std::string> tokens;  // [n_tokens]  tokenizer.ggml.tokens
  std::vector<float> scores;        // [n_tokens]  tokenizer.ggml.scores
  std::vector<TokenType> types;     // [n_tokens]  tokenizer.ggml.token_type
  TokenId bos_id = 1;               // tokenizer.ggml.bos_token_id (-1: none)
  TokenId eos_id = 2;               // tokenizer.ggml.eos_token_id (-1: none)
  TokenId unk_id = 0;               // tokenizer.ggml.unknown_token_id (-1: none)
  bool add_space_prefix = true;     // tokenizer.ggml.add_space_prefix
  bool add_bos = true;              // tokenizer.ggml.add_bos_token (a default for callers)
  bool add_eos = false;             // tokenizer.ggml.add_eos_token (a default for callers)
  // BPE only: tokenizer.ggml.pre ("gemma4" for a gemma4 model), and
  // tokenizer.ggml.merges as "left right", highest priority first.
  std::string pre;
  std::vector<std::string> merges;
  // general.name: llama.cpp gives Phi-3's special tokens RSTRIP by name.
  std::string model_name;
};

// Reads the vocabulary of a GGUF file whose `tokenizer.ggml.model` is "llama"
// (llama.cpp's defaults for absent keys: scores 0, type normal, bos 1, eos 2,
// unk 0, add_space_prefix and add_bos true), "gpt2" or "gemma4" (no
// space prefix; bos/eos 11 when in range, no unk; add_bos true only for the
// llama-bpe family and gemma4). Vocab-only files (no tensors) are fine. Errors name the file and
// key: a missing token list (not found), another tokenizer model
// (unimplemented), a key of the wrong type (invalid argument). Array lengths
// and special ids are checked by Tokenizer::create.
Result<Vocabulary> vocabulary_from_gguf(const gguf::GgufFile& file);

}  // namespace llmos::tokenizer
