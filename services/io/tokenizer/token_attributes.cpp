#include "token_attributes.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace llmos::tokenizer {
namespace {

uint32_t attribute_of_type(TokenType type) {
  switch (type) {
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

// Texts llama.cpp recognises as markers (end of turn, fill-in-the-middle
// parts, end of generation) and forces to CONTROL whatever the file says.
// Within each list llama.cpp takes one token per role; a vocabulary holds at
// most one of each list's texts in practice.
constexpr std::string_view kEndOfTurn[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
    "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view kFimPrefix[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>",
                                           "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSuffix[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>",
                                           "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMiddle[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>",
                                           "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPad[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
constexpr std::string_view kFimRepo[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::string_view kFimSep[] = {"<|file_sep|>"};
constexpr std::string_view kEndOfGeneration[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

ResolvedAttributes resolve_attributes(const Vocabulary& v,
                                      const std::function<TokenId(std::string_view)>& find) {
  ResolvedAttributes r;
  r.attributes.reserve(v.types.size());
  for (TokenType t : v.types) r.attributes.push_back(attribute_of_type(t));

  // First token of a list present in the vocabulary becomes CONTROL.
  auto first_of = [&](std::span<const std::string_view> texts) -> TokenId {
    for (std::string_view text : texts) {
      if (TokenId id = find(text); id >= 0) return id;
    }
    return -1;
  };
  std::vector<TokenId> eog;
  for (auto list : {std::span<const std::string_view>(kEndOfTurn), std::span<const std::string_view>(kFimPrefix),
                    std::span<const std::string_view>(kFimSuffix), std::span<const std::string_view>(kFimMiddle),
                    std::span<const std::string_view>(kFimPad), std::span<const std::string_view>(kFimRepo),
                    std::span<const std::string_view>(kFimSep)}) {
    const TokenId id = first_of(list);
    if (id < 0) continue;
    r.attributes[id] |= kAttrControl;
    if (list.data() == kFimPad || list.data() == kFimRepo || list.data() == kFimSep ||
        list.data() == kEndOfTurn) {
      eog.push_back(id);
    }
  }
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if ((r.attributes[id] & kAttrControl) && v.tokens[id].find("unused") != std::string::npos) {
      r.attributes[id] |= kAttrUnused;
    }
  }
  for (std::string_view text : kEndOfGeneration) {
    if (TokenId id = find(text); id >= 0) {
      eog.push_back(id);
      r.attributes[id] |= kAttrControl;
    }
  }
  for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (TokenId id = find(text); id >= 0) r.attributes[id] = kAttrUserDefined;
  }
  if (v.eos_id >= 0) eog.push_back(v.eos_id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  auto drop_from_eog = [&](TokenId id, uint32_t attributes) {
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
    r.attributes[id] = attributes;
  };
  auto in_eog = [&](std::string_view text) {
    const TokenId id = find(text);
    return id >= 0 && std::binary_search(eog.begin(), eog.end(), id);
  };
  // gpt-oss and solar-open: "<|end|>" ends a message, not the generation.
  if (in_eog("<|end|>") && ((in_eog("<|return|>") && in_eog("<|call|>")) ||
                            (in_eog("<|calls|>") && in_eog("<|flush|>")))) {
    drop_from_eog(find("<|end|>"), kAttrUserDefined);
  }
  // Gemma 4: "</s>" is ordinary text.
  if (in_eog("<|tool_response>") && in_eog("</s>")) drop_from_eog(find("</s>"), kAttrNormal);
  r.end_of_generation = std::move(eog);

  const std::string name = lowercase(v.model_name);
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (size_t id = 0; id < r.attributes.size(); ++id) {
      if (r.attributes[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) r.attributes[id] |= kAttrRstrip;
    }
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (TokenId id = find(text); id >= 0) r.attributes[id] &= ~kAttrRstrip;
    }
  }
  return r;
}

}  // namespace llmos::tokenizer
