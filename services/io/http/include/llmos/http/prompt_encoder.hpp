// PromptEncoder: prompt pieces to token ids over a Tokenizer, turning the
// control-token texts of template pieces ("<s>", "<|im_start|>") into those
// tokens the way llama.cpp's tokenizer does with parse_special. Borrows the
// Tokenizer (which must outlive it); immutable after construction, so it may
// be shared across threads.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "llmos/http/generation_backend.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::http {

class PromptEncoder {
 public:
  explicit PromptEncoder(const tokenizer::Tokenizer& tok);

  // Adjacent ordinary text (of any pieces) is tokenized as one run, with the
  // SentencePiece space prefix at the start and after each control token.
  // add_bos puts BOS first unless the pieces begin with it.
  std::vector<int32_t> encode(std::span<const PromptPiece> pieces, bool add_bos) const;

 private:
  const tokenizer::Tokenizer* tok_;
  std::vector<std::pair<std::string, int32_t>> specials_;  // control-token texts, longest first
};

}  // namespace llmos::http
