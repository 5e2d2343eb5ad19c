// Tokenizer: text <-> token ids for SentencePiece ("llama") vocabularies,
// matching llama.cpp's SPM tokenizer and detokenizer token for token.
// A Tokenizer owns a copy of its vocabulary and is immutable after create():
// share one across threads freely. A StreamDecoder borrows a Tokenizer (which
// must outlive it) and holds per-stream state: one per stream, one thread at a time.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/tokenizer/vocabulary.hpp"

namespace llmos::tokenizer {

class Tokenizer {
 public:
  // Validates the vocabulary: non-empty, scores and types as long as tokens,
  // special ids in range, byte tokens spelled <0xXX>, known token types.
  // Errors (invalid argument) name vocab.source and the GGUF key at fault.
  static Result<Tokenizer> create(Vocabulary vocab);

  // Text (UTF-8; invalid bytes are tolerated and byte-encoded) to ids:
  // optional BOS, then SentencePiece BPE over the text with spaces as '▁' and
  // one '▁' prefixed when add_space_prefix. Control-token text such as "<s>"
  // in `text` is ordinary text; user-defined tokens are matched verbatim.
  std::vector<TokenId> encode(std::string_view text, bool add_bos) const;

  // The bytes a token stands for: '▁' -> ' ', <0xXX> -> that byte, control,
  // unknown and unused tokens -> "". REQUIRES: contains(id).
  const std::string& token_to_piece(TokenId id) const;

  // Concatenated pieces; with add_space_prefix one leading space of the first
  // piece is dropped (llama.cpp's detokenize). May be invalid UTF-8 when the
  // ids are. REQUIRES: contains(id) for every id.
  std::string decode(std::span<const TokenId> ids) const;

  bool contains(TokenId id) const { return id >= 0 && id < n_tokens(); }
  TokenId n_tokens() const { return static_cast<TokenId>(vocab_.tokens.size()); }
  // The token's text as stored in the vocabulary ("▁Hello", "<s>", "<0x0A>").
  // REQUIRES: contains(id).
  const std::string& token_text(TokenId id) const;
  // REQUIRES: contains(id).
  TokenType token_type(TokenId id) const;
  // The id whose text is exactly `text`, or -1.
  TokenId find_token(std::string_view text) const;

  TokenId bos_id() const { return vocab_.bos_id; }
  TokenId eos_id() const { return vocab_.eos_id; }
  TokenId unk_id() const { return vocab_.unk_id; }
  bool add_space_prefix() const { return vocab_.add_space_prefix; }
  bool add_bos() const { return vocab_.add_bos; }
  const std::string& source() const { return vocab_.source; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

  explicit Tokenizer(Vocabulary vocab) : vocab_(std::move(vocab)) {}
  void encode_fragment(std::string_view text, bool space_prefix, std::vector<TokenId>& out) const;

  Vocabulary vocab_;
  TokenMap text_to_id_;                  // every token text -> id (last id wins)
  std::vector<std::string> pieces_;      // [n_tokens] decoded bytes of each token
  std::array<TokenId, 256> byte_to_id_;  // byte-fallback token of each byte
  std::vector<TokenId> user_defined_;    // user-defined ids, longest text first
};

// Reads and validates the vocabulary of a GGUF file (vocabulary_from_gguf, then
// Tokenizer::create).
Result<Tokenizer> tokenizer_from_gguf(const gguf::GgufFile& file);

// Incremental detokenizer for streaming: push() returns only complete, valid
// UTF-8, holding back a character whose bytes are split across tokens; bytes
// that can never form a character come out as U+FFFD. The first piece loses
// its leading space as in Tokenizer::decode, so for valid text the chunks
// concatenate to decode(ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  // REQUIRES: tokenizer.contains(id).
  std::string push(TokenId id);
  // Ends the stream: returns held-back bytes (an incomplete character becomes
  // U+FFFD) and resets, so the next push() starts a new stream.
  std::string finish();

 private:
  std::string drain_complete();

  const Tokenizer* tokenizer_;
  bool first_ = true;
  std::string pending_;  // bytes of a not yet complete UTF-8 character (< 4)
};

}  // namespace llmos::tokenizer
