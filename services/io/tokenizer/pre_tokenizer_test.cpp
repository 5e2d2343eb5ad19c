// The hand-written word splitters against ICU running the regexes they stand
// for: the same words for tricky strings and for random mixes of letters,
// marks, digits, whitespace, newlines, apostrophes, punctuation, CJK and emoji.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "pre_tokenizer.hpp"

namespace llmos::tokenizer {
namespace {

std::string show(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) {
    out += '[';
    out += w;
    out += ']';
  }
  return out;
}

void check_same_words(const PreTokenizer& pre, std::string_view text) {
  std::vector<std::string_view> fast, regex;
  pre.split(text, fast);
  pre.split_with_regex(text, regex);
  CHECK_MESSAGE(fast == regex, pre.name() << " on \"" << text << "\"\n  regex: " << show(regex)
                                          << "\n  fast:  " << show(fast));
}

TEST_CASE("hand-written splitters give the regex's words") {
  const std::vector<std::string> fixed = {
      "", " ", "  ", "\n", " \n", "\n \n  x", "Hello world", "I'm, you're, WE'LL, it'S", "'x 'll' '",
      "12345 1 22 333 4444", "a  b   c    ", "\t\tx\r\n\r\ny", "  \n  x", "x\u00a0y \u3000z", "café naïve",
      "e\u0301 a\u0300b \u0301x", "调度器在请求到达时醒来，查看缓存。", "🚀 (normal) 😶‍🌫️ ✅", "¹²³ ½ Ⅻ",
      "   Hello\n\n\n", "func(a, b) { return a+b; }\n", "\xC3\x28 bad \xFF bytes", "'s's't", " ' ", "x\v\fy"};
  const std::vector<std::string> pool = {"a", "Z", "é", "e\u0301", "\u0301", "1", "٣", "²", " ", "  ", "\t",
                                         "\n", "\r", "\r\n", "'", "'s", "'LL", ".", ",", "!?", "(", "—", "中",
                                         "文", "の", "🚀", "\u00a0", "\u2028", "x", "hello", "\v"};
  for (const char* name : {"llama-bpe", "qwen2", "qwen35", "gpt-2", "starcoder"}) {
    auto pre = PreTokenizer::create(name, "test");
    REQUIRE(pre.ok());
    for (const std::string& text : fixed) check_same_words(*pre, text);
    std::mt19937 rng(12);
    for (int round = 0; round < 400; ++round) {
      std::string text;
      const int n = static_cast<int>(rng() % 24);
      for (int i = 0; i < n; ++i) text += pool[rng() % pool.size()];
      check_same_words(*pre, text);
    }
  }
}

}  // namespace
}  // namespace llmos::tokenizer
