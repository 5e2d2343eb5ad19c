// Cutting special tokens out of text before encoding (llama.cpp's
// tokenizer_st_partition): for each special token, longest text first, every
// occurrence in every remaining run of text becomes that token. Control and
// unknown tokens only take part when parse_special; user-defined ones always.
// LSTRIP / RSTRIP tokens swallow the ASCII whitespace before / after them.
#include <algorithm>
#include <bitset>
#include <cctype>

#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::tokenizer {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

void Tokenizer::split_special(std::string_view text, bool parse_special, std::vector<Fragment>& out) const {
  out.clear();
  if (text.empty()) return;
  out.push_back({text, -1});
  // A token can only occur if every byte of it does: one pass over the text
  // spares most tokens their search.
  std::bitset<256> present;
  for (char c : text) present.set(static_cast<uint8_t>(c));
  std::vector<Fragment> split;
  for (TokenId special : special_) {
    const uint32_t attributes = attributes_[special];
    if (!parse_special && (attributes & (kAttrControl | kAttrUnknown))) continue;
    const std::string& needle = vocab_.tokens[special];
    if (!std::all_of(needle.begin(), needle.end(), [&](char c) { return present.test(static_cast<uint8_t>(c)); })) {
      continue;
    }
    // Most tokens occur nowhere: look before rebuilding the fragment list.
    bool found = false;
    for (const Fragment& f : out) {
      if (f.token < 0 && f.text.find(needle) != std::string_view::npos) {
        found = true;
        break;
      }
    }
    if (!found) continue;
    split.clear();
    for (const Fragment& f : out) {
      if (f.token >= 0) {
        split.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (size_t hit; (hit = rest.find(needle)) != std::string_view::npos;) {
        std::string_view left = rest.substr(0, hit);
        if (attributes & kAttrLstrip) {
          while (!left.empty() && is_space(left.back())) left.remove_suffix(1);
        }
        if (!left.empty()) split.push_back({left, -1});
        split.push_back({{}, special});
        rest.remove_prefix(hit + needle.size());
        if (attributes & kAttrRstrip) {
          while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
        }
      }
      if (!rest.empty()) split.push_back({rest, -1});
    }
    out.swap(split);
  }
}

}  // namespace llmos::tokenizer
