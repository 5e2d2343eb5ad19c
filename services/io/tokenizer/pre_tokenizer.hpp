// The pre-tokenizer of a byte-level BPE vocabulary (`tokenizer.ggml.pre`): the
// regular expressions llama.cpp applies one after another to cut text into
// words before merging, with Unicode categories from ICU. A PreTokenizer owns
// its compiled patterns and is immutable: split() may run on many threads.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "word_splitter.hpp"

struct URegularExpression;

namespace llmos::tokenizer {

class PreTokenizer {
 public:
  // The pre-tokenizer called `name`; an unknown name is invalid_argument
  // naming it and `source` (the vocabulary file).
  static Result<PreTokenizer> create(std::string_view name, std::string_view source);

  // Cuts `text` into words: each pattern splits every piece so far into its
  // matches and the text between them (kept as words too). Words borrow from
  // `text`. Ill-formed UTF-8 reaches ICU as U+FFFD and stays in some word.
  // The hot families (llama3, qwen2, qwen35, gpt-2 shapes) use a hand-written
  // splitter that gives the regex's words; split_with_regex always runs ICU.
  void split(std::string_view text, std::vector<std::string_view>& words) const;
  void split_with_regex(std::string_view text, std::vector<std::string_view>& words) const;

  const std::string& name() const { return name_; }
  // Words are spelled with GPT-2's byte characters before merging (false for
  // gemma4, which merges raw UTF-8 with spaces as '▁').
  bool byte_encode() const { return byte_encode_; }
  // A word that is itself a token is taken whole (llama.cpp's ignore_merges).
  bool ignore_merges() const { return ignore_merges_; }
  // Spaces become '▁' before splitting (gemma4).
  bool escape_spaces() const { return escape_spaces_; }

 private:
  struct RegexCloser {
    void operator()(URegularExpression* re) const;
  };
  using Regex = std::shared_ptr<const URegularExpression>;

  std::string name_;
  std::vector<Regex> patterns_;  // compiled once, cloned per split() for thread safety
  WordPattern fast_ = WordPattern::kNone;
  bool byte_encode_ = true;
  bool ignore_merges_ = false;
  bool escape_spaces_ = false;
};

}  // namespace llmos::tokenizer
