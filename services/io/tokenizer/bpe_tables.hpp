// What a byte-level BPE Tokenizer adds to the vocabulary: its pre-tokenizer,
// GPT-2's byte characters and the merge ranks keyed by token id pair.
// Private to llmos_tokenizer; built once by Tokenizer::create, then immutable
// and shared by copies of the Tokenizer (thread-safe to read).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "byte_unicode.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "pre_tokenizer.hpp"

namespace llmos::tokenizer {

struct BpeMerge {
  int32_t rank;     // position in tokenizer.ggml.merges: lower merges first
  TokenId merged;   // the token spelled left + right, or -1
};

// (left id, right id) -> merge, open addressing with linear probing; the first
// insertion of a pair wins (the lowest rank).
class MergeTable {
 public:
  void reserve(size_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
  }
  void insert(TokenId left, TokenId right, BpeMerge merge) {
    const uint64_t k = key(left, right);
    for (uint64_t at = spread(k) & mask_;; at = (at + 1) & mask_) {
      if (slots_[at].key == kEmpty) {
        slots_[at] = {k, merge};
        return;
      }
      if (slots_[at].key == k) return;
    }
  }
  // The merge of the pair, or nullptr.
  const BpeMerge* find(TokenId left, TokenId right) const {
    const uint64_t k = key(left, right);
    for (uint64_t at = spread(k) & mask_;; at = (at + 1) & mask_) {
      if (slots_[at].key == k) return &slots_[at].merge;
      if (slots_[at].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    BpeMerge merge{};
  };
  static uint64_t key(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  static uint64_t spread(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
  }
  std::vector<Slot> slots_;  // [power of two >= 2 * merges]
  uint64_t mask_ = 0;
};

struct BpeTables {
  PreTokenizer pre;
  ByteUnicode bytes;
  // A merge whose sides are not tokens can never apply and is left out.
  MergeTable merges;
  // [byte] the token spelling that byte as one GPT-2 character, or -1.
  std::array<TokenId, 256> byte_token{};
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
