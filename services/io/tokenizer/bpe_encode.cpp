// Byte-level BPE encoding (llama.cpp's llm_tokenizer_bpe): a run of text is
// split by the pre-tokenizer, each word spelled with GPT-2's byte characters
// (or kept raw with spaces as '▁' for gemma4), then the adjacent pair with the
// lowest merge rank is merged until none is left (ties: leftmost).
#include <queue>

#include "bpe_tables.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "utf8.hpp"

namespace llmos::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'

}  // namespace

void Tokenizer::encode_bpe_fragment(std::string_view text, std::vector<TokenId>& out) const {
  const BpeTables& bpe = *bpe_;
  std::string escaped;
  if (bpe.pre.escape_spaces()) {
    escaped.reserve(text.size() + text.size() / 4);
    for (char c : text) {
      if (c == ' ') {
        escaped += kSpaceMarker;
      } else {
        escaped += c;
      }
    }
    text = escaped;
  }
  std::vector<std::string_view> words;
  bpe.pre.split(text, words);
  std::string spelled;
  for (std::string_view word : words) {
    if (bpe.pre.byte_encode()) {
      spelled.clear();
      bpe.bytes.encode_all(word, spelled);
      encode_bpe_word(spelled, out);
    } else {
      encode_bpe_word(word, out);
    }
  }
}

void Tokenizer::encode_bpe_word(std::string_view word, std::vector<TokenId>& out) const {
  const BpeTables& bpe = *bpe_;
  if (word.empty()) return;
  if (bpe.pre.ignore_merges() || (bpe.pre.escape_spaces() && word.find_first_not_of('\n') == std::string_view::npos)) {
    // A word that is a token is taken whole (llama3 family; gemma4's newline runs).
    if (const TokenId whole = find_token(word); whole >= 0) {
      out.push_back(whole);
      return;
    }
  }

  // A doubly linked list of symbols over `word`; a symbol merged into its left
  // neighbour keeps length 0.
  struct Symbol {
    uint32_t offset, length;
    int32_t prev, next;
    TokenId id;  // the token this symbol spells, or -1
  };
  std::vector<Symbol> symbols;  // [n_characters]
  symbols.reserve(word.size());
  for (size_t offset = 0; offset < word.size();) {
    const Utf8Scan scan = scan_utf8(word.substr(offset));
    const size_t length = scan.kind == Utf8Kind::kComplete ? scan.length : 1;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length), index - 1,
                       offset + length == word.size() ? -1 : index + 1,
                       find_token(word.substr(offset, length))});
    offset += length;
  }

  struct Pair {
    int32_t rank;
    int32_t left, right;
    uint32_t length;  // bytes of left + right when the pair was queued
  };
  auto later = [](const Pair& a, const Pair& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(later)> queue(later);
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
    const auto it = bpe.merges.find(BpeTables::key(symbols[left].id, symbols[right].id));
    if (it == bpe.merges.end()) return;
    queue.push({it->second.rank, left, right, symbols[left].length + symbols[right].length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Pair pair = queue.top();
    queue.pop();
    Symbol& left = symbols[pair.left];
    Symbol& right = symbols[pair.right];
    // Stale: one side was merged away or has grown since the pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length) continue;
    left.id = bpe.merges.at(BpeTables::key(left.id, right.id)).merged;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pair.left;
    try_pair(left.prev, pair.left);
    try_pair(pair.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& symbol = symbols[i];
    if (symbol.id >= 0) {
      out.push_back(symbol.id);
      continue;
    }
    // Not a token: each byte alone (byte-level vocabularies spell every byte
    // as a one-character token; gemma4 has <0xXX> tokens). Bytes without a
    // token are dropped, as llama.cpp does.
    for (char c : word.substr(symbol.offset, symbol.length)) {
      const TokenId id = bpe.pre.byte_encode() ? find_token(std::string_view(&c, 1))
                                                : byte_to_id_[static_cast<unsigned char>(c)];
      if (id >= 0) out.push_back(id);
    }
  }
}

}  // namespace llmos::tokenizer
