// A synthetic byte-level SentencePiece ("llama") vocabulary for generated models:
// <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>, then distinct normal pieces
// ("▁", letters, "▁the", ...) with decreasing scores. Pure: thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace llmos::modelgen {

// SentencePiece token types as stored in tokenizer.ggml.token_type.
inline constexpr int32_t kTokenNormal = 1;
inline constexpr int32_t kTokenUnknown = 2;
inline constexpr int32_t kTokenControl = 3;
inline constexpr int32_t kTokenByte = 6;
inline constexpr int kFirstPieceId = 259;  // after <unk>, <s>, </s> and 256 byte tokens
inline constexpr int kMaxSyntheticVocab = 100000;

struct SyntheticVocab {
  std::vector<std::string> tokens;  // [vocab_size], UTF-8
  std::vector<float> scores;        // [vocab_size]
  std::vector<int32_t> types;       // [vocab_size]
};

// REQUIRES: kFirstPieceId <= vocab_size <= kMaxSyntheticVocab.
SyntheticVocab make_synthetic_vocab(int vocab_size);

}  // namespace llmos::modelgen
