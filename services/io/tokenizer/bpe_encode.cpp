// Byte-level BPE encoding (llama.cpp's llm_tokenizer_bpe): a run of text is
// split by the pre-tokenizer, each word spelled with GPT-2's byte characters
// (or kept raw with spaces as '▁' for gemma4), then the adjacent pair with the
// lowest merge rank is merged until none is left (ties: leftmost).
#include <algorithm>
#include <unordered_map>
#include <utility>

#include "bpe_tables.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "utf8.hpp"

namespace llmos::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'
// From this many words on, a run of text caches the ids of each distinct word.
constexpr size_t kCacheFromWords = 256;

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
  BpeScratch scratch;
  bpe.pre.split(text, scratch.words);
  if (scratch.words.size() < kCacheFromWords) {
    for (std::string_view word : scratch.words) encode_bpe_word(word, scratch, out);
    return;
  }
  // Long texts repeat words: each distinct word is merged once per call.
  // The cache maps a word to the ids it gave, kept in `out` itself.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  cache.reserve(scratch.words.size() / 4);
  for (std::string_view word : scratch.words) {
    auto [it, fresh] = cache.try_emplace(word, out.size(), 0);
    if (fresh) {
      encode_bpe_word(word, scratch, out);
      it->second.second = out.size() - it->second.first;
    } else {
      const auto [first, count] = it->second;
      for (size_t k = 0; k < count; ++k) out.push_back(out[first + k]);
    }
  }
}

// `word` is raw text; byte-level vocabularies merge its bytes as the tokens
// spelling them with GPT-2's characters (so symbols stay byte ranges of it).
void Tokenizer::encode_bpe_word(std::string_view word, BpeScratch& scratch, std::vector<TokenId>& out) const {
  const BpeTables& bpe = *bpe_;
  const bool byte_level = bpe.pre.byte_encode();
  if (word.empty()) return;
  if (bpe.pre.ignore_merges() || (bpe.pre.escape_spaces() && word.find_first_not_of('\n') == std::string_view::npos)) {
    // A word that is a token is taken whole (llama3 family; gemma4's newline runs).
    std::string_view spelled = word;
    if (byte_level) {
      scratch.spelled.clear();
      bpe.bytes.encode_all(word, scratch.spelled);
      spelled = scratch.spelled;
    }
    if (const TokenId whole = find_token(spelled); whole >= 0) {
      out.push_back(whole);
      return;
    }
  }

  // A doubly linked list of symbols over `word`; a symbol merged into its left
  // neighbour keeps length 0.
  std::vector<BpeScratch::Symbol>& symbols = scratch.symbols;
  symbols.clear();
  for (size_t offset = 0; offset < word.size();) {
    size_t length = 1;
    TokenId id;
    if (byte_level) {
      id = bpe.byte_token[static_cast<uint8_t>(word[offset])];
    } else {
      const Utf8Scan scan = scan_utf8(word.substr(offset));
      length = scan.kind == Utf8Kind::kComplete ? scan.length : 1;
      id = find_token(word.substr(offset, length));
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length), index - 1,
                       offset + length == word.size() ? -1 : index + 1, id});
    offset += length;
  }

  using Pair = BpeScratch::Pair;
  auto later = [](const Pair& a, const Pair& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::vector<Pair>& heap = scratch.heap;
  heap.clear();
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
    const BpeMerge* merge = bpe.merges.find(symbols[left].id, symbols[right].id);
    if (merge == nullptr) return;
    heap.push_back({merge->rank, merge->merged, left, right, symbols[left].length + symbols[right].length});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Pair pair = heap.back();
    heap.pop_back();
    BpeScratch::Symbol& left = symbols[pair.left];
    BpeScratch::Symbol& right = symbols[pair.right];
    // Stale: one side was merged away or has grown since the pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length) continue;
    left.id = pair.merged;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pair.left;
    try_pair(left.prev, pair.left);
    try_pair(pair.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const BpeScratch::Symbol& symbol = symbols[i];
    if (symbol.id >= 0) {
      out.push_back(symbol.id);
      continue;
    }
    // Not a token: each byte of its spelling alone (gemma4: <0xXX> tokens).
    // Bytes without a token are dropped, as llama.cpp does.
    const std::string_view raw = word.substr(symbol.offset, symbol.length);
    if (byte_level) {
      std::string spelled;
      bpe.bytes.encode_all(raw, spelled);
      for (char c : spelled) {
        if (const TokenId id = find_token(std::string_view(&c, 1)); id >= 0) out.push_back(id);
      }
    } else {
      for (char c : raw) {
        if (const TokenId id = byte_to_id_[static_cast<unsigned char>(c)]; id >= 0) out.push_back(id);
      }
    }
  }
}

}  // namespace llmos::tokenizer
