// What a byte-level BPE Tokenizer adds to the vocabulary: its pre-tokenizer,
// GPT-2's byte characters and the merge ranks keyed by token id pair.
// Private to llmos_tokenizer; built once by Tokenizer::create, then immutable
// and shared by copies of the Tokenizer (thread-safe to read).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // [byte] the token spelling that byte as one GPT-2 character, or -1.
  std::array<TokenId, 256> byte_token{};

  static uint64_t key(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
};

// Buffers one encode() call reuses from word to word.
struct BpeScratch {
  struct Symbol {
    uint32_t offset, length;  // bytes of the word
    int32_t prev, next;
    TokenId id;  // the token this symbol spells, or -1
  };
  struct Pair {
    int32_t rank;
    TokenId merged;
    int32_t left, right;
    uint32_t length;  // bytes of left + right when the pair was queued
  };
  std::vector<std::string_view> words;
  std::vector<Symbol> symbols;  // [characters of the word]
  std::vector<Pair> heap;       // candidate merges, lowest rank (then leftmost) on top
  std::string spelled;
};

}  // namespace llmos::tokenizer
