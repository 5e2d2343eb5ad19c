// UTF-8 scanning shared by the encoder (splitting text into characters) and the
// stream decoder (holding back split characters). Private to llmos_tokenizer.
// Pure functions over borrowed bytes: thread-safe.
#pragma once
#include <cstddef>
#include <string_view>

namespace llmos::tokenizer {

enum class Utf8Kind {
  kComplete,    // a whole, well-formed character (Unicode Table 3-7)
  kIncomplete,  // a well-formed prefix of a character that the input cuts off
  kInvalid,     // bytes that can never start a well-formed character
};

struct Utf8Scan {
  Utf8Kind kind;
  // kComplete: the character's length (1..4). kIncomplete: all the bytes left.
  // kInvalid: the length of the maximal ill-formed subpart (one U+FFFD's worth).
  size_t length;
};

// Scans the character at the start of `bytes`. REQUIRES: !bytes.empty().
Utf8Scan scan_utf8(std::string_view bytes);

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace llmos::tokenizer
