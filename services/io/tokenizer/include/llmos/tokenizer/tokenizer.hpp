// Tokenizer: text <-> token ids for SentencePiece ("llama") and byte-level BPE
// ("gpt2", "gemma4") vocabularies, matching llama.cpp's tokenizers and
// detokenizer token for token. A Tokenizer owns a copy of its vocabulary (the
// BPE tables are immutable and shared between copies) and is immutable after
// create(): share one across threads freely. A StreamDecoder borrows a Tokenizer (which
// must outlive it) and holds per-stream state: one per stream, one thread at a time.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/tokenizer/token_index.hpp"
#include "llmos/tokenizer/vocabulary.hpp"

namespace llmos::tokenizer {

// What llama.cpp makes of a token at load time (llama_token_attr's bits).
enum TokenAttribute : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

struct BpeTables;
struct BpeScratch;

class Tokenizer {
 public:
  // Validates the vocabulary: non-empty, scores and types as long as tokens,
  // special ids in range, byte tokens spelled <0xXX>, known token types, and
  // for BPE a known pre-tokenizer and merges of the form "left right".
  // Errors (invalid argument) name vocab.source and the GGUF key at fault.
  static Result<Tokenizer> create(Vocabulary vocab);

  // Text (UTF-8; invalid bytes are tolerated and byte-encoded) to ids:
  // optional BOS, then special tokens cut out of the text (longest first):
  // user-defined ones always, control and unknown ones only when
  // parse_special. Each remaining run of text is encoded: SentencePiece with
  // spaces as '▁' and one '▁' prefixed after a special token or at the start
  // when add_space_prefix; BPE by pre-tokenizer split and merges by rank.
  std::vector<TokenId> encode(std::string_view text, bool add_bos, bool parse_special = false) const;

  // The bytes a token stands for: user-defined tokens their text, normal
  // tokens their text ('▁' -> ' ' for SentencePiece and gemma4, GPT-2 byte
  // characters -> bytes for byte-level BPE), <0xXX> -> that byte; control,
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
  // TokenAttribute bits as llama.cpp resolves them. REQUIRES: contains(id).
  uint32_t token_attributes(TokenId id) const;
  // Whether the token ends generation (llama.cpp's is_eog).
  bool is_end_of_generation(TokenId id) const;
  VocabKind kind() const { return vocab_.kind; }
  // The BPE pre-tokenizer's name ("" for SentencePiece).
  const std::string& pre_tokenizer() const { return vocab_.pre; }
  // The id whose text is exactly `text`, or -1.
  TokenId find_token(std::string_view text) const;

  TokenId bos_id() const { return vocab_.bos_id; }
  TokenId eos_id() const { return vocab_.eos_id; }
  TokenId unk_id() const { return vocab_.unk_id; }
  bool add_space_prefix() const { return vocab_.add_space_prefix; }
  bool add_bos() const { return vocab_.add_bos; }
  bool add_eos() const { return vocab_.add_eos; }
  const std::string& source() const { return vocab_.source; }

 private:
  struct Fragment {
    std::string_view text;
    TokenId token;  // -1: text to tokenize
  };

  explicit Tokenizer(Vocabulary vocab) : vocab_(std::move(vocab)) {}
  // Cuts the special tokens out of `text` (special_split.cpp).
  void split_special(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;
  void encode_fragment(std::string_view text, bool space_prefix, std::vector<TokenId>& out) const;
  // BPE (bpe_encode.cpp): one run of text, and one pre-tokenized word.
  void encode_bpe_fragment(std::string_view text, std::vector<TokenId>& out) const;
  void encode_bpe_word(std::string_view word, BpeScratch& scratch, std::vector<TokenId>& out) const;

  Vocabulary vocab_;
  TokenIndex text_to_id_;                // every token text -> id (last id wins)
  std::vector<std::string> pieces_;      // [n_tokens] decoded bytes of each token
  std::array<TokenId, 256> byte_to_id_;  // byte-fallback token of each byte (-1: none)
  std::vector<uint32_t> attributes_;     // [n_tokens] TokenAttribute bits
  std::vector<TokenId> end_of_generation_;  // sorted
  std::vector<TokenId> special_;         // control, user-defined, unknown ids, longest text first
  std::shared_ptr<const BpeTables> bpe_;  // BPE only: pre-tokenizer and merge ranks
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
