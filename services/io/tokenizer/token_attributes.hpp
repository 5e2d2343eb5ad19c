// The attributes llama.cpp gives each token once a vocabulary is loaded: the
// file's token type, then CONTROL for end-of-turn / fill-in-the-middle marker
// texts, UNUSED for control tokens named "unused", RSTRIP for Phi-3's specials,
// and the end-of-generation set. Private to llmos_tokenizer; pure functions.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::tokenizer {

struct ResolvedAttributes {
  std::vector<uint32_t> attributes;  // [n_tokens] TokenAttribute bits
  std::vector<TokenId> end_of_generation;  // sorted ids
};

// REQUIRES: v passed Tokenizer validation; find(text) is the id of a token text or -1.
ResolvedAttributes resolve_attributes(const Vocabulary& v,
                                      const std::function<TokenId(std::string_view)>& find);

}  // namespace llmos::tokenizer
