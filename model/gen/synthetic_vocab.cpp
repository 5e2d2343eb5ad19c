#include "llmos/modelgen/synthetic_vocab.hpp"

#include <functional>
#include <iterator>
#include <string_view>
#include <unordered_set>

#include "llmos/common/status.hpp"

namespace llmos::modelgen {
namespace {

constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary

constexpr std::string_view kWords[] = {
    "the", "and", "to", "of", "was", "he", "she", "it", "in", "a", "is", "that", "his", "her",
    "with", "for", "on", "they", "you", "said", "had", "at", "but", "day", "one", "so", "not",
    "up", "be", "were", "all", "we", "there", "very", "have", "from", "little", "time", "big",
    "happy", "saw", "went", "play", "friend", "mom", "dog", "cat", "tree", "sun", "ball",
    "Once", "upon", "The", "He", "She", "They", "It", "Lily", "Tim", "Ben", "what", "when",
    "this", "out", "are", "by", "an", "as", "can", "do", "if", "me", "my", "no", "or", "will",
};

// Calls emit(s) for every string of `len` letters from `alphabet`, in order,
// until emit returns false. Returns false when stopped early.
bool for_each_word(std::string_view alphabet, int len, const std::function<bool(const std::string&)>& emit) {
  std::string s(size_t(len), alphabet[0]);
  std::vector<size_t> idx(size_t(len), 0);
  while (true) {
    if (!emit(s)) return false;
    int i = len - 1;
    while (i >= 0 && idx[size_t(i)] + 1 == alphabet.size()) {
      idx[size_t(i)] = 0;
      s[size_t(i)] = alphabet[0];
      --i;
    }
    if (i < 0) return true;
    s[size_t(i)] = alphabet[++idx[size_t(i)]];
  }
}

}  // namespace

SyntheticVocab make_synthetic_vocab(int vocab_size) {
  LLMOS_REQUIRE(vocab_size >= kFirstPieceId && vocab_size <= kMaxSyntheticVocab,
                "synthetic vocabulary size out of range");
  SyntheticVocab v;
  v.tokens.reserve(size_t(vocab_size));
  const auto add = [&](std::string token, float score, int32_t type) {
    v.tokens.push_back(std::move(token));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, kTokenUnknown);
  add("<s>", 0.0f, kTokenControl);
  add("</s>", 0.0f, kTokenControl);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b)
    add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0.0f, kTokenByte);

  std::unordered_set<std::string> seen;
  // Adds a normal piece unless already present; false once the vocabulary is full.
  const auto piece = [&](const std::string& s) {
    if (int(v.tokens.size()) >= vocab_size) return false;
    if (seen.insert(s).second) add(s, 0.0f - float(v.tokens.size() - kFirstPieceId), kTokenNormal);
    return int(v.tokens.size()) < vocab_size;
  };
  const std::string space(kSpace);
  constexpr std::string_view kLower = "abcdefghijklmnopqrstuvwxyz";
  constexpr std::string_view kAlnum =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  bool more = piece(space);
  for (char c = '!'; more && c <= '~'; ++c) more = piece(std::string(1, c));
  for (size_t i = 0; more && i < kAlnum.size(); ++i) more = piece(space + kAlnum[i]);
  for (size_t i = 0; more && i < std::size(kWords); ++i) more = piece(space + std::string(kWords[i]));
  for (size_t i = 0; more && i < std::size(kWords); ++i) more = piece(std::string(kWords[i]));
  for (int len = 2; more; ++len) {
    more = for_each_word(kLower, len, [&](const std::string& w) { return piece(w); }) &&
           for_each_word(kLower, len, [&](const std::string& w) { return piece(space + w); });
  }
  LLMOS_ASSERT(int(v.tokens.size()) == vocab_size);
  return v;
}

}  // namespace llmos::modelgen
