// TokenIndex: token text -> id as an open-addressing table of ids (the texts
// stay in the vocabulary, so a copied Tokenizer's index stays valid); built
// once, then immutable and thread-safe to read. A detail of Tokenizer.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmos::tokenizer {

class TokenIndex {
 public:
  // Indexes texts[i] -> i; of equal texts the last id wins.
  void build(const std::vector<std::string>& texts);
  // The id whose text is `text`, or -1. REQUIRES: the same `texts` as build().
  int32_t find(std::string_view text, const std::vector<std::string>& texts) const;

 private:
  struct Slot {
    uint32_t id_plus_one = 0;  // 0: empty
    uint32_t hash = 0;         // low bits of the text's hash
  };
  static uint64_t hash_of(std::string_view text);
  std::vector<Slot> slots_;  // [power of two >= 2 * n_tokens]
  uint64_t mask_ = 0;
};

}  // namespace llmos::tokenizer
