// Text helpers for messages and listings about GGUF files: keys, names and strings
// from a file may hold any bytes, so they are escaped (and cut) before printing.
// Pure functions: thread-safe.
#pragma once
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace llmos::gguf {

// `s` made safe to print on one line: valid UTF-8 and printable ASCII kept,
// control characters, quotes, backslashes and bytes of invalid UTF-8 escaped
// (\n, \", \xNN), cut after max_bytes input bytes with "..." appended.
std::string escape_text(std::string_view s, size_t max_bytes = std::numeric_limits<size_t>::max());
// 'name', escaped and cut at 96 bytes: for error messages.
std::string quoted(std::string_view name);

}  // namespace llmos::gguf
