// GPT-2's reversible byte <-> printable character mapping used by byte-level
// BPE vocabularies: token texts spell bytes as these characters ("Ġ" is a
// space). Private to llmos_tokenizer; an immutable value, thread-safe.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmos::tokenizer {

class ByteUnicode {
 public:
  ByteUnicode();
  // The UTF-8 of the character that stands for `byte`.
  std::string_view encode(uint8_t byte) const { return {encoded_[byte].data(), lengths_[byte]}; }
  // Appends the byte-level spelling of `bytes`.
  void encode_all(std::string_view bytes, std::string& out) const;
  // Appends the bytes a token text spells; a character outside the mapping is
  // kept as it is.
  void decode_all(std::string_view text, std::string& out) const;

 private:
  std::array<std::array<char, 2>, 256> encoded_;  // [byte] UTF-8 of its character (1 or 2 bytes)
  std::array<uint8_t, 256> lengths_;
  std::array<int16_t, 512> byte_of_;  // [code point] byte it stands for, or -1
};

}  // namespace llmos::tokenizer
