// What a byte-level BPE Tokenizer adds to the vocabulary: its pre-tokenizer,
// GPT-2's byte characters and the merge ranks keyed by token id pair.
// Private to llmos_tokenizer; built once by Tokenizer::create, then immutable
// and shared by copies of the Tokenizer (thread-safe to read).
#pragma once
#include <cstdint>
#include <unordered_map>

#include "byte_unicode.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "pre_tokenizer.hpp"

namespace llmos::tokenizer {

struct BpeMerge {
  int32_t rank;     // position in tokenizer.ggml.merges: lower merges first
  TokenId merged;   // the token spelled left + right, or -1
};

struct BpeTables {
  PreTokenizer pre;
  ByteUnicode bytes;
  // (left id << 32 | right id) -> merge; a merge whose sides are not tokens
  // can never apply and is left out.
  std::unordered_map<uint64_t, BpeMerge> merges;

  static uint64_t key(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
};

}  // namespace llmos::tokenizer
