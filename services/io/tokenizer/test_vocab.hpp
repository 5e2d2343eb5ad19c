// Hand-built vocabularies for the tokenizer's unit tests: <unk>, <s>, </s>,
// the 256 byte tokens <0x00>..<0xFF> (ids 3..258), then the given pieces.
// Plain values, built fresh per test.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "llmos/tokenizer/vocabulary.hpp"

namespace llmos::tokenizer::testing {

struct Piece {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::kNormal;
};

inline constexpr TokenId kFirstByteToken = 3;
inline constexpr TokenId kFirstPiece = 259;

inline Vocabulary make_vocab(const std::vector<Piece>& pieces, bool byte_tokens = true) {
  Vocabulary v;
  v.source = "test-vocab";
  auto add = [&v](std::string text, float score, TokenType type) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    if (byte_tokens) {
      add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, TokenType::kByte);
    } else {
      add("<unused" + std::to_string(b) + ">", 0, TokenType::kUnused);
    }
  }
  for (const Piece& p : pieces) add(p.text, p.score, p.type);
  return v;
}

}  // namespace llmos::tokenizer::testing
