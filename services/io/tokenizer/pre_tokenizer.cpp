#include "pre_tokenizer.hpp"

#include <unicode/uregex.h>
#include <unicode/utext.h>

#include <span>

namespace llmos::tokenizer {
namespace {

// The regular expressions are the pre-tokenizer definitions of each model
// family's tokenizer.json, in the form llama.cpp applies them (several in a
// row for some families; contractions spelled case-insensitively where the
// original used (?i:...)).
constexpr std::string_view kLlama3[] = {
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
constexpr std::string_view kQwen2[] = {
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
constexpr std::string_view kQwen35[] = {
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
constexpr std::string_view kGpt2[] = {
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))"};
constexpr std::string_view kStarcoder[] = {
    R"(\p{N})", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))"};
constexpr std::string_view kFalcon[] = {
    R"([\p{P}\$\+<=>\^~\|`]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
    R"([0-9][0-9][0-9])"};
constexpr std::string_view kDeepseekLlm[] = {
    R"([\r\n])",
    // Cased letters (Unicode LC) spelled by code point: a literal such as
    // U+1FD3 would be at risk of canonical normalisation to U+0390.
    R"(\s?[A-Za-z\x{00B5}\x{00C0}-\x{00D6}\x{00D8}-\x{00F6}\x{00F8}-\x{01BA}\x{01BC}-\x{01BF}\x{01C4}-\x{0293}\x{0295}-\x{02AF}\x{0370}-\x{0373}\x{0376}-\x{0377}\x{037B}-\x{037D}\x{037F}\x{0386}\x{0388}-\x{038A}\x{038C}\x{038E}-\x{03A1}\x{03A3}-\x{03F5}\x{03F7}-\x{0481}\x{048A}-\x{052F}\x{0531}-\x{0556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}-\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}-\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)",
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)", R"(\s+\z)", R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)", R"(\p{N}+)"};
constexpr std::string_view kDeepseekCoder[] = {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)",
                                               R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)", R"(\p{N})"};
constexpr std::string_view kPoro[] = {R"( ?[^(\s|.,!?…。，、।۔،)]+)"};
constexpr std::string_view kGemma4[] = {R"([^\n]+|[\n]+)"};
constexpr std::string_view kDefault[] = {
    R"([\p{P}\$\+<=>\^~\|]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
    R"(\p{N}+)", R"([0-9][0-9][0-9])"};

struct Family {
  std::span<const std::string_view> patterns;
  bool ignore_merges = false;
  bool byte_encode = true;
  bool escape_spaces = false;
};

struct Alias {
  std::string_view name;
  Family family;
};

const Alias kAliases[] = {
    {"default", {kDefault}},
    {"llama3", {kLlama3, true}}, {"llama-v3", {kLlama3, true}}, {"llama-bpe", {kLlama3, true}},
    {"falcon3", {kLlama3, true}}, {"falcon-h1", {kLlama3, true}}, {"pixtral", {kLlama3, true}},
    {"midm-2.0", {kLlama3, true}}, {"lfm2", {kLlama3, true}},
    {"dbrx", {kLlama3}}, {"smaug-bpe", {kLlama3}}, {"glm4", {kLlama3}}, {"chatglm-bpe", {kLlama3}},
    {"deepseek-llm", {kDeepseekLlm}}, {"deepseek-coder", {kDeepseekCoder}},
    {"falcon", {kFalcon}},
    {"mpt", {kGpt2}}, {"gpt-2", {kGpt2}}, {"phi-2", {kGpt2}}, {"olmo", {kGpt2}}, {"jais", {kGpt2}},
    {"jina-es", {kGpt2}}, {"jina-de", {kGpt2}}, {"jina-v2-es", {kGpt2}}, {"jina-v2-de", {kGpt2}},
    {"gigachat", {kGpt2}}, {"exaone4", {kGpt2}}, {"trillion", {kGpt2}}, {"granite-docling", {kGpt2}},
    {"starcoder", {kStarcoder}}, {"refact", {kStarcoder}}, {"command-r", {kStarcoder}},
    {"smollm", {kStarcoder}}, {"codeshell", {kStarcoder}}, {"exaone", {kStarcoder}},
    {"minerva-7b", {kStarcoder}},
    {"qwen2", {kQwen2}}, {"deepseek-r1-qwen", {kQwen2}}, {"stablelm2", {kQwen2}}, {"megrez", {kQwen2}},
    {"hunyuan", {kQwen2}}, {"solar-open", {kQwen2}}, {"grok-2", {kQwen2}},
    {"qwen35", {kQwen35}},
    {"poro-chat", {kPoro}}, {"bloom", {kPoro}}, {"gpt3-finnish", {kPoro}},
    {"gemma4", {kGemma4, false, false, true}},
};

// ICU's \s is [\t\n\f\r\p{Z}]; the tokenizers mean Unicode White_Space (which
// also holds \v, U+0085 and U+1680's kin), as llama.cpp's tables do.
std::string to_icu(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += "\\p{White_Space}";
      } else if (next == 'S') {
        out += "\\P{White_Space}";
      } else {
        out += '\\';
        out += next;
      }
    } else {
      out += pattern[i];
    }
  }
  return out;
}

struct UTextCloser {
  UText* text;
  ~UTextCloser() { utext_close(text); }
};

}  // namespace

void PreTokenizer::RegexCloser::operator()(URegularExpression* re) const { uregex_close(re); }

Result<PreTokenizer> PreTokenizer::create(std::string_view name, std::string_view source) {
  const Family* family = nullptr;
  for (const Alias& alias : kAliases) {
    if (alias.name == name) family = &alias.family;
  }
  if (family == nullptr) {
    return invalid_argument(std::string(source) + ": tokenizer.ggml.pre = \"" + std::string(name) +
                            "\" is not a pre-tokenizer llmos knows");
  }
  PreTokenizer p;
  p.name_ = std::string(name);
  p.byte_encode_ = family->byte_encode;
  p.ignore_merges_ = family->ignore_merges;
  p.escape_spaces_ = family->escape_spaces;
  const std::string_view* patterns = family->patterns.data();
  p.fast_ = patterns == kLlama3   ? WordPattern::kLlama3
            : patterns == kQwen2  ? WordPattern::kQwen2
            : patterns == kQwen35 ? WordPattern::kQwen35
            : patterns == kGpt2   ? WordPattern::kGpt2
            : patterns == kStarcoder ? WordPattern::kStarcoder
                                     : WordPattern::kNone;
  for (std::string_view pattern : family->patterns) {
    const std::string icu = to_icu(pattern);
    UParseError where{};
    UErrorCode status = U_ZERO_ERROR;
    UText pattern_text = UTEXT_INITIALIZER;
    utext_openUTF8(&pattern_text, icu.data(), static_cast<int64_t>(icu.size()), &status);
    URegularExpression* re = uregex_openUText(&pattern_text, 0, &where, &status);
    utext_close(&pattern_text);
    if (U_FAILURE(status)) {
      if (re != nullptr) uregex_close(re);
      return internal_error(std::string(source) + ": pre-tokenizer \"" + std::string(name) +
                            "\": ICU rejects pattern " + icu + " (" + u_errorName(status) + ")");
    }
    p.patterns_.emplace_back(re, RegexCloser{});
  }
  return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
  if (fast_ == WordPattern::kNone) return split_with_regex(text, words);
  words.clear();
  split_words(fast_, text, words);
}

void PreTokenizer::split_with_regex(std::string_view text, std::vector<std::string_view>& words) const {
  words.clear();
  if (text.empty()) return;
  words.push_back(text);
  std::vector<std::string_view> next;
  for (const Regex& prototype : patterns_) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<URegularExpression, RegexCloser> re(uregex_clone(prototype.get(), &status));
    LLMOS_ASSERT(U_SUCCESS(status));
    next.clear();
    next.reserve(words.size() * 2);
    for (std::string_view piece : words) {
      UText text = UTEXT_INITIALIZER;
      utext_openUTF8(&text, piece.data(), static_cast<int64_t>(piece.size()), &status);
      UTextCloser closer{&text};
      uregex_setUText(re.get(), &text, &status);
      LLMOS_ASSERT(U_SUCCESS(status));
      size_t done = 0;
      while (uregex_findNext(re.get(), &status)) {
        const auto start = static_cast<size_t>(uregex_start64(re.get(), 0, &status));
        const auto end = static_cast<size_t>(uregex_end64(re.get(), 0, &status));
        if (end <= start) continue;
        if (start > done) next.push_back(piece.substr(done, start - done));
        next.push_back(piece.substr(start, end - start));
        done = end;
      }
      LLMOS_ASSERT(U_SUCCESS(status));
      if (done < piece.size()) next.push_back(piece.substr(done));
    }
    words.swap(next);
  }
}

}  // namespace llmos::tokenizer
