#include "llmos/http/prompt_encoder.hpp"

#include <algorithm>
#include <string_view>

namespace llmos::http {

PromptEncoder::PromptEncoder(const tokenizer::Tokenizer& tok) : tok_(&tok) {
  for (tokenizer::TokenId id = 0; id < tok.n_tokens(); ++id) {
    if (tok.token_type(id) == tokenizer::TokenType::kControl && !tok.token_text(id).empty()) {
      specials_.emplace_back(tok.token_text(id), id);
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::vector<int32_t> PromptEncoder::encode(std::span<const PromptPiece> pieces, bool add_bos) const {
  std::vector<int32_t> out;
  std::string run;  // ordinary text not yet tokenized
  auto flush = [&] {
    if (run.empty()) return;
    const auto ids = tok_->encode(run, /*add_bos=*/false);
    out.insert(out.end(), ids.begin(), ids.end());
    run.clear();
  };
  for (const auto& piece : pieces) {
    if (!piece.parse_special) {
      run += piece.text;
      continue;
    }
    const std::string_view text = piece.text;
    size_t i = 0;
    while (i < text.size()) {
      const auto hit = std::find_if(specials_.begin(), specials_.end(),
                                    [&](const auto& s) { return text.substr(i).starts_with(s.first); });
      if (hit == specials_.end()) {
        run += text[i++];
        continue;
      }
      flush();
      out.push_back(hit->second);
      i += hit->first.size();
    }
  }
  flush();
  if (add_bos && tok_->bos_id() >= 0 && (out.empty() || out.front() != tok_->bos_id())) {
    out.insert(out.begin(), tok_->bos_id());
  }
  return out;
}

}  // namespace llmos::http
