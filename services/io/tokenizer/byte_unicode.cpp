#include "byte_unicode.hpp"

#include "utf8.hpp"

namespace llmos::tokenizer {

ByteUnicode::ByteUnicode() {
  byte_of_.fill(-1);
  // Printable Latin-1 bytes stand for themselves; the others take code points
  // 256, 257, ... in byte order.
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? b : next++;
    byte_of_[cp] = static_cast<int16_t>(b);
    if (cp < 0x80) {
      encoded_[b] = {static_cast<char>(cp), 0};
      lengths_[b] = 1;
    } else {
      encoded_[b] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
      lengths_[b] = 2;
    }
  }
}

void ByteUnicode::encode_all(std::string_view bytes, std::string& out) const {
  for (char c : bytes) out += encode(static_cast<uint8_t>(c));
}

void ByteUnicode::decode_all(std::string_view text, std::string& out) const {
  for (size_t i = 0; i < text.size();) {
    const Utf8Scan scan = scan_utf8(text.substr(i));
    const size_t length = scan.kind == Utf8Kind::kComplete ? scan.length : 1;
    uint32_t cp = 0x7FFFFFFF;
    const auto b0 = static_cast<uint8_t>(text[i]);
    if (length == 1 && b0 < 0x80) {
      cp = b0;
    } else if (length == 2) {
      cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
    }
    if (cp < byte_of_.size() && byte_of_[cp] >= 0) {
      out += static_cast<char>(byte_of_[cp]);
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
}

}  // namespace llmos::tokenizer
