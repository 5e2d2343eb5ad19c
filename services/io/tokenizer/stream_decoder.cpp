#include "llmos/tokenizer/tokenizer.hpp"
#include "utf8.hpp"

namespace llmos::tokenizer {

std::string StreamDecoder::push(TokenId id) {
  std::string_view piece = tokenizer_->token_to_piece(id);
  if (first_ && tokenizer_->add_space_prefix() && !piece.empty() && piece[0] == ' ') {
    piece.remove_prefix(1);
  }
  first_ = false;
  if (pending_.empty()) {
    // Fast path: a piece that is whole characters goes out as it is.
    size_t offset = 0;
    while (offset < piece.size()) {
      const Utf8Scan scan = scan_utf8(piece.substr(offset));
      if (scan.kind != Utf8Kind::kComplete) break;
      offset += scan.length;
    }
    if (offset == piece.size()) return std::string(piece);
  }
  pending_ += piece;
  return drain_complete();
}

// Emits every complete character of pending_ (U+FFFD for ill-formed bytes) and
// keeps a trailing incomplete one.
std::string StreamDecoder::drain_complete() {
  std::string out;
  size_t offset = 0;
  while (offset < pending_.size()) {
    const Utf8Scan scan = scan_utf8(std::string_view(pending_).substr(offset));
    if (scan.kind == Utf8Kind::kIncomplete) break;
    if (scan.kind == Utf8Kind::kComplete) {
      out.append(pending_, offset, scan.length);
    } else {
      out += kReplacementCharacter;
    }
    offset += scan.length;
  }
  pending_.erase(0, offset);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = drain_complete();
  if (!pending_.empty()) out += kReplacementCharacter;
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace llmos::tokenizer
