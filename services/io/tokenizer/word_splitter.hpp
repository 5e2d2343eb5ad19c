// Hand-written equivalents of the hottest pre-tokenizer regexes (llama3 /
// qwen2 / qwen35, gpt-2 and starcoder shapes): one pass over the code points with ICU's
// character categories instead of a backtracking regex. They give exactly the
// regex's words (checked against ICU in pre_tokenizer_test.cpp). Private to
// llmos_tokenizer; pure functions, thread-safe.
#pragma once
#include <string_view>
#include <vector>

namespace llmos::tokenizer {

enum class WordPattern {
  kNone,    // no hand-written splitter: use the regexes
  kLlama3,  // contractions | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
  kQwen2,   // as kLlama3 with \p{N} one at a time
  kQwen35,  // as kQwen2 with marks \p{M} counted as letters
  kGpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  kStarcoder,  // \p{N} alone, then kGpt2 on the text between digits
};

// Appends the words of `text` (matches and the text between them), borrowing
// from `text`. REQUIRES: pattern != kNone.
void split_words(WordPattern pattern, std::string_view text, std::vector<std::string_view>& words);

}  // namespace llmos::tokenizer
