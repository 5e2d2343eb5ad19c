#include "utf8.hpp"

#include "llmos/common/status.hpp"

namespace llmos::tokenizer {

Utf8Scan scan_utf8(std::string_view bytes) {
  LLMOS_REQUIRE(!bytes.empty(), "scan_utf8 needs at least one byte");
  const auto lead = static_cast<unsigned char>(bytes[0]);
  if (lead < 0x80) return {Utf8Kind::kComplete, 1};
  size_t length = 0;
  unsigned char second_lo = 0x80, second_hi = 0xBF;  // range allowed for byte 2
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_lo = 0xA0;  // no overlong forms
    if (lead == 0xED) second_hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_lo = 0x90;  // no overlong forms
    if (lead == 0xF4) second_hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return {Utf8Kind::kInvalid, 1};  // continuation byte, C0/C1, F5..FF
  }
  for (size_t i = 1; i < length; ++i) {
    if (i >= bytes.size()) return {Utf8Kind::kIncomplete, bytes.size()};
    const auto b = static_cast<unsigned char>(bytes[i]);
    const unsigned char lo = i == 1 ? second_lo : 0x80;
    const unsigned char hi = i == 1 ? second_hi : 0xBF;
    if (b < lo || b > hi) return {Utf8Kind::kInvalid, i};
  }
  return {Utf8Kind::kComplete, length};
}

}  // namespace llmos::tokenizer
