#include "word_splitter.hpp"

#include <unicode/uchar.h>

#include <cstdint>

#include "llmos/common/status.hpp"
#include "utf8.hpp"

namespace llmos::tokenizer {
namespace {

enum : uint8_t {
  kLetter = 1,  // \p{L}
  kNumber = 2,  // \p{N}
  kSpace = 4,   // \s (Unicode White_Space)
  kMark = 8,    // \p{M}
  kCrLf = 16,   // \r or \n
};

struct CodePoint {
  uint32_t offset;  // byte offset in the text
  uint32_t value;   // code point; U+FFFD for a byte of ill-formed UTF-8
  uint8_t flags;
};

uint8_t classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return kLetter;
    if (cp >= '0' && cp <= '9') return kNumber;
    if (cp == '\r' || cp == '\n') return kSpace | kCrLf;
    if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return kSpace;
    return 0;
  }
  const uint32_t mask = U_GET_GC_MASK(static_cast<UChar32>(cp));
  uint8_t flags = 0;
  if (mask & U_GC_L_MASK) flags |= kLetter;
  if (mask & U_GC_N_MASK) flags |= kNumber;
  if (mask & U_GC_M_MASK) flags |= kMark;
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) flags |= kSpace;
  return flags;
}

uint32_t decode(std::string_view bytes, size_t length) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])); };
  switch (length) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

void code_points(std::string_view text, std::vector<CodePoint>& out) {
  out.clear();
  out.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const auto lead = static_cast<uint8_t>(text[offset]);
    if (lead < 0x80) {
      out.push_back({static_cast<uint32_t>(offset), lead, classify(lead)});
      ++offset;
      continue;
    }
    const Utf8Scan scan = scan_utf8(text.substr(offset));
    if (scan.kind == Utf8Kind::kComplete) {
      const uint32_t cp = decode(text.substr(offset), scan.length);
      out.push_back({static_cast<uint32_t>(offset), cp, classify(cp)});
      offset += scan.length;
    } else {
      out.push_back({static_cast<uint32_t>(offset), 0xFFFD, 0});
      offset += 1;
    }
  }
}

uint32_t ascii_lower(uint32_t cp) { return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp; }

// Length of the contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t contraction(const std::vector<CodePoint>& c, size_t i, size_t n, bool any_case) {
  if (c[i].value != '\'' || i + 1 >= n) return 0;
  const auto fold = [&](size_t k) { return any_case ? ascii_lower(c[k].value) : c[k].value; };
  const uint32_t a = fold(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= n) return 0;
  const uint32_t b = fold(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// End of the llama3-shaped match at i (always > i: every character matches
// one alternative).
size_t match_llama3(const std::vector<CodePoint>& c, size_t i, size_t max_digits, bool marks) {
  const size_t n = c.size();
  const uint8_t letter = marks ? (kLetter | kMark) : kLetter;
  const uint8_t not_other = kSpace | kLetter | kNumber | (marks ? kMark : 0);
  const auto is = [&](size_t k, uint8_t flags) { return k < n && (c[k].flags & flags) != 0; };
  const auto is_other = [&](size_t k) { return k < n && (c[k].flags & not_other) == 0; };

  if (const size_t len = contraction(c, i, n, /*any_case=*/true); len > 0) return i + len;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (is(i, letter) || ((c[i].flags & (kLetter | kNumber | kCrLf)) == 0 && is(i + 1, letter))) {
    size_t j = i + 1;
    while (is(j, letter)) ++j;
    return j;
  }
  if (is(i, kNumber)) {
    size_t j = i + 1;
    while (j - i < max_digits && is(j, kNumber)) ++j;
    return j;
  }
  // " ?[^\s\p{L}\p{N}]+[\r\n]*"
  const size_t k = c[i].value == ' ' && is_other(i + 1) ? i + 1 : i;
  if (is_other(k)) {
    size_t j = k + 1;
    while (is_other(j)) ++j;
    while (is(j, kCrLf)) ++j;
    return j;
  }
  // Whitespace: \s*[\r\n]+ ends after the run's last newline; else \s+(?!\S)
  // leaves the last space for the next word; else \s+.
  size_t end = i;
  size_t after_newline = i;
  while (is(end, kSpace)) {
    if (c[end].flags & kCrLf) after_newline = end + 1;
    ++end;
  }
  if (after_newline > i) return after_newline;
  if (end == n || end - i == 1) return end;
  return end - 1;
}

// End of the gpt2-shaped match at i, or i when none matches there.
size_t match_gpt2(const std::vector<CodePoint>& c, size_t i, size_t n) {
  const auto is = [&](size_t k, uint8_t flags) { return k < n && (c[k].flags & flags) != 0; };
  const auto is_other = [&](size_t k) { return k < n && (c[k].flags & (kSpace | kLetter | kNumber)) == 0; };
  if (const size_t len = contraction(c, i, n, /*any_case=*/false); len > 0) return i + len;
  const size_t start = c[i].value == ' ' ? i + 1 : i;
  for (int kind = 0; kind < 3; ++kind) {
    const auto in_class = [&](size_t k) { return kind == 0 ? is(k, kLetter) : kind == 1 ? is(k, kNumber) : is_other(k); };
    // " ?X+": with the space when X follows it, else X+ from i itself.
    size_t from = start < n && in_class(start) ? start : (in_class(i) ? i : n);
    if (from == n) continue;
    size_t j = from + 1;
    while (in_class(j)) ++j;
    return j;
  }
  size_t end = i;
  while (is(end, kSpace)) ++end;
  if (end == i) return i;
  if (end == n) return end;
  return end - i >= 2 ? end - 1 : i;  // \s+(?!\S)
}

// Words of c[from, to) as one piece of text: matches and the text between them.
void split_range(WordPattern pattern, const std::vector<CodePoint>& c, size_t from, size_t to,
                 std::string_view text, std::vector<std::string_view>& words) {
  const auto offset = [&](size_t k) -> size_t { return k < c.size() ? c[k].offset : text.size(); };
  size_t gap = to;  // first code point of unmatched text, or `to`
  for (size_t i = from; i < to;) {
    size_t j = i;
    switch (pattern) {
      case WordPattern::kLlama3: j = match_llama3(c, i, 3, false); break;
      case WordPattern::kQwen2: j = match_llama3(c, i, 1, false); break;
      case WordPattern::kQwen35: j = match_llama3(c, i, 1, true); break;
      case WordPattern::kGpt2:
      case WordPattern::kStarcoder: j = match_gpt2(c, i, to); break;
      case WordPattern::kNone: break;
    }
    if (j == i) {
      if (gap == to) gap = i;
      ++i;
      continue;
    }
    if (gap != to) {
      words.push_back(text.substr(offset(gap), offset(i) - offset(gap)));
      gap = to;
    }
    words.push_back(text.substr(offset(i), offset(j) - offset(i)));
    i = j;
  }
  if (gap != to) words.push_back(text.substr(offset(gap), offset(to) - offset(gap)));
}

}  // namespace

void split_words(WordPattern pattern, std::string_view text, std::vector<std::string_view>& words) {
  LLMOS_REQUIRE(pattern != WordPattern::kNone, "no hand-written splitter for this pattern");
  std::vector<CodePoint> c;
  code_points(text, c);
  const size_t n = c.size();
  if (pattern != WordPattern::kStarcoder) return split_range(pattern, c, 0, n, text, words);
  // \p{N} first: every digit is a word of its own, and the gpt-2 pattern runs
  // on each stretch between digits as on a text of its own.
  for (size_t i = 0; i < n;) {
    if (c[i].flags & kNumber) {
      const size_t end = i + 1 < n ? c[i + 1].offset : text.size();
      words.push_back(text.substr(c[i].offset, end - c[i].offset));
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && !(c[j].flags & kNumber)) ++j;
    split_range(WordPattern::kGpt2, c, i, j, text, words);
    i = j;
  }
}

}  // namespace llmos::tokenizer
