// Python's str methods on UTF-8 text, as Jinja templates call them (ASCII case
// mapping). Pure functions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace llmos::jinja {

std::string strip(const std::string& s, const std::string& chars, bool left, bool right);
std::string upper(std::string s);
std::string lower(std::string s);
std::string title(const std::string& s);
// count < 0: every occurrence. An empty `from` inserts `to` between characters.
std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count);
// str.splitlines(): no trailing empty piece after a final newline.
std::vector<std::string> split_lines(const std::string& s);
// str.split(sep, maxsplit) / str.rsplit; sep_given false: runs of whitespace.
std::vector<std::string> split(const std::string& s, const std::string& sep, bool sep_given, int64_t maxsplit,
                               bool from_right);

}  // namespace llmos::jinja
