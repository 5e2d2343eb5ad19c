#include "llmos/tokenizer/tokenizer.hpp"

#include <algorithm>
#include <queue>

#include "bpe_tables.hpp"
#include "token_attributes.hpp"
#include "utf8.hpp"

namespace llmos::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// "<0xXX>" -> XX, or -1.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

Status check_length(const Vocabulary& v, size_t size, std::string_view key) {
  if (size == v.tokens.size()) return ok_status();
  return invalid_argument(v.source + ": " + std::string(key) + " has " + std::to_string(size) +
                          " entries but tokenizer.ggml.tokens has " +
                          std::to_string(v.tokens.size()));
}

Status check_special(const Vocabulary& v, TokenId id, std::string_view key) {
  if (id >= -1 && static_cast<int64_t>(id) < static_cast<int64_t>(v.tokens.size())) return ok_status();
  return invalid_argument(v.source + ": " + std::string(key) + " = " + std::to_string(id) +
                          " is not a token id (the vocabulary has " +
                          std::to_string(v.tokens.size()) + " tokens)");
}

Status validate(const Vocabulary& v) {
  if (v.tokens.empty()) return invalid_argument(v.source + ": tokenizer.ggml.tokens is empty");
  LLMOS_RETURN_IF_ERROR(check_length(v, v.scores.size(), "tokenizer.ggml.scores"));
  LLMOS_RETURN_IF_ERROR(check_length(v, v.types.size(), "tokenizer.ggml.token_type"));
  for (size_t i = 0; i < v.types.size(); ++i) {
    const auto type = static_cast<int32_t>(v.types[i]);
    const std::string where = v.source + ": tokenizer.ggml.token_type[" + std::to_string(i) + "]";
    if (type < 0 || type > static_cast<int32_t>(TokenType::kByte)) {
      return invalid_argument(where + " = " + std::to_string(type) + " is not a token type (0..6)");
    }
    if (v.types[i] == TokenType::kByte && parse_byte_token(v.tokens[i]) < 0 &&
        v.kind == VocabKind::kSentencePiece) {
      return invalid_argument(where + " says byte but tokenizer.ggml.tokens[" + std::to_string(i) +
                              "] = " + quoted(v.tokens[i]) + " is not of the form <0xXX>");
    }
  }
  LLMOS_RETURN_IF_ERROR(check_special(v, v.bos_id, "tokenizer.ggml.bos_token_id"));
  LLMOS_RETURN_IF_ERROR(check_special(v, v.eos_id, "tokenizer.ggml.eos_token_id"));
  LLMOS_RETURN_IF_ERROR(check_special(v, v.unk_id, "tokenizer.ggml.unknown_token_id"));
  return ok_status();
}

std::string unescape_spaces(std::string_view text) {
  std::string piece;
  piece.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kSpaceMarker.size()) == kSpaceMarker) {
      piece += ' ';
      i += kSpaceMarker.size();
    } else {
      piece += text[i++];
    }
  }
  return piece;
}

// What a token decodes to (llama.cpp's token_to_piece without special tokens).
// `bytes` is set for byte-level BPE, whose normal tokens spell bytes.
std::string piece_of(std::string_view text, uint32_t attributes, const ByteUnicode* bytes) {
  if (attributes & kAttrUserDefined) return std::string(text);
  if (attributes & kAttrNormal) {
    if (bytes == nullptr) return unescape_spaces(text);
    std::string piece;
    bytes->decode_all(text, piece);
    return piece;
  }
  if (attributes & kAttrByte) {
    const int value = parse_byte_token(text);
    return value < 0 ? std::string() : std::string(1, static_cast<char>(value));
  }
  return {};  // unknown, control, unused, undefined
}

// "left right" -> the two halves (split at the first space after the first
// byte, as llama.cpp does), or false.
bool split_merge(std::string_view merge, std::string_view& left, std::string_view& right) {
  const size_t space = merge.find(' ', 1);
  if (space == std::string_view::npos) return false;
  left = merge.substr(0, space);
  right = merge.substr(space + 1);
  return true;
}

}  // namespace

Result<Tokenizer> Tokenizer::create(Vocabulary vocab) {
  LLMOS_RETURN_IF_ERROR(validate(vocab));
  Tokenizer t(std::move(vocab));
  const Vocabulary& v = t.vocab_;
  const auto n = static_cast<TokenId>(v.tokens.size());
  t.text_to_id_.build(v.tokens);

  std::shared_ptr<BpeTables> bpe;
  if (v.kind == VocabKind::kBytePairs) {
    LLMOS_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::create(v.pre, v.source));
    bpe = std::make_shared<BpeTables>(BpeTables{std::move(pre), ByteUnicode(), {}});
    bpe->merges.reserve(v.merges.size());
    std::string joined;
    for (size_t i = 0; i < v.merges.size(); ++i) {
      std::string_view left, right;
      if (!split_merge(v.merges[i], left, right)) {
        return invalid_argument(v.source + ": tokenizer.ggml.merges[" + std::to_string(i) + "] = " +
                                quoted(v.merges[i]) + " is not of the form \"left right\"");
      }
      const TokenId left_id = t.find_token(left);
      const TokenId right_id = t.find_token(right);
      if (left_id < 0 || right_id < 0) continue;
      joined.assign(left);
      joined += right;
      bpe->merges.insert(left_id, right_id, BpeMerge{static_cast<int32_t>(i), t.find_token(joined)});
    }
  }

  if (bpe) {
    for (int b = 0; b < 256; ++b) bpe->byte_token[b] = t.find_token(bpe->bytes.encode(static_cast<uint8_t>(b)));
  }
  ResolvedAttributes resolved = resolve_attributes(v, [&t](std::string_view text) { return t.find_token(text); });
  t.attributes_ = std::move(resolved.attributes);
  t.end_of_generation_ = std::move(resolved.end_of_generation);
  const ByteUnicode* bytes = bpe && bpe->pre.byte_encode() ? &bpe->bytes : nullptr;
  t.pieces_.reserve(v.tokens.size());
  for (TokenId id = 0; id < n; ++id) {
    t.pieces_.push_back(piece_of(v.tokens[id], t.attributes_[id], bytes));
    if (t.attributes_[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) t.special_.push_back(id);
  }
  std::stable_sort(t.special_.begin(), t.special_.end(), [&v](TokenId a, TokenId b) {
    return v.tokens[a].size() > v.tokens[b].size();
  });
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char spelled[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    TokenId id = t.find_token(std::string_view(spelled, sizeof(spelled)));
    if (id < 0 && v.kind == VocabKind::kSentencePiece) id = t.find_token(std::string(1, static_cast<char>(b)));
    t.byte_to_id_[b] = id >= 0 ? id : (v.kind == VocabKind::kSentencePiece ? v.unk_id : -1);
  }
  t.bpe_ = std::move(bpe);
  return t;
}

uint32_t Tokenizer::token_attributes(TokenId id) const {
  LLMOS_REQUIRE(contains(id), "token id out of range");
  return attributes_[id];
}

bool Tokenizer::is_end_of_generation(TokenId id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

TokenId Tokenizer::find_token(std::string_view text) const { return text_to_id_.find(text, vocab_.tokens); }

const std::string& Tokenizer::token_to_piece(TokenId id) const {
  LLMOS_REQUIRE(contains(id), "token id out of range");
  return pieces_[id];
}

const std::string& Tokenizer::token_text(TokenId id) const {
  LLMOS_REQUIRE(contains(id), "token id out of range");
  return vocab_.tokens[id];
}

TokenType Tokenizer::token_type(TokenId id) const {
  LLMOS_REQUIRE(contains(id), "token id out of range");
  return vocab_.types[id];
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<TokenId> out;
  if (add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  if (text.empty()) return out;

  std::vector<Fragment> fragments;
  split_special(text, parse_special, fragments);
  // SentencePiece: each run of text after a special token (or at the start)
  // gets its own space prefix.
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else if (bpe_) {
      encode_bpe_fragment(f.text, out);
    } else {
      encode_fragment(f.text, vocab_.add_space_prefix && after_special, out);
      after_special = false;
    }
  }
  return out;
}

// SentencePiece BPE: start from UTF-8 characters and keep merging the adjacent
// pair whose concatenation is the best-scoring token (ties: leftmost).
void Tokenizer::encode_fragment(std::string_view text, bool space_prefix,
                                std::vector<TokenId>& out) const {
  std::string escaped;
  escaped.reserve(text.size() + kSpaceMarker.size());
  if (space_prefix) escaped += kSpaceMarker;
  for (char c : text) {
    if (c == ' ') {
      escaped += kSpaceMarker;
    } else {
      escaped += c;
    }
  }
  const std::string_view bytes = escaped;
  if (bytes.empty()) return;

  // A doubly linked list of symbols over `bytes`; a symbol merged into its
  // left neighbour keeps length 0.
  struct Symbol {
    uint32_t offset, length;
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;  // [n_characters]
  symbols.reserve(bytes.size());
  for (size_t offset = 0; offset < bytes.size();) {
    const Utf8Scan scan = scan_utf8(bytes.substr(offset));
    const size_t length = scan.kind == Utf8Kind::kComplete ? scan.length : 1;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length), index - 1,
                       offset + length == bytes.size() ? -1 : index + 1});
    offset += length;
  }

  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t length;  // bytes of left + right when the pair was queued
  };
  auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower_priority)> queue(lower_priority);
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view pair =
        bytes.substr(symbols[left].offset, symbols[left].length + symbols[right].length);
    const TokenId id = find_token(pair);
    if (id < 0) return;
    queue.push({vocab_.scores[id], left, right, static_cast<uint32_t>(pair.size())});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged away or has grown since the pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_pair(left.prev, bigram.left);
    try_pair(bigram.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const std::string_view symbol = bytes.substr(symbols[i].offset, symbols[i].length);
    const TokenId id = find_token(symbol);
    if (id >= 0) {
      out.push_back(id);
    } else {
      for (char c : symbol) {
        if (const TokenId byte = byte_to_id_[static_cast<unsigned char>(c)]; byte >= 0) out.push_back(byte);
      }
    }
  }
}

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string_view piece = token_to_piece(ids[i]);
    if (i == 0 && vocab_.add_space_prefix && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
    text += piece;
  }
  return text;
}

}  // namespace llmos::tokenizer
