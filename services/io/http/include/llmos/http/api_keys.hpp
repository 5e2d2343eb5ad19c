// ApiKeys: the bearer keys the HTTP API accepts, read from a keys file (one key
// a line, `admin:KEY` for an administrator key, `#` comments, blank lines
// ignored). Immutable after parse(): share it across threads freely.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::http {

enum class KeyRole { kNone, kUser, kAdmin };

class ApiKeys {
 public:
  ApiKeys() = default;  // no keys: every request is allowed, admin included

  // invalid_argument naming `source` and the line for a key with spaces or an
  // empty key; an empty file gives an error too (it would lock everyone out).
  static Result<ApiKeys> parse(std::string_view text, std::string_view source);
  // parse() of a file; not_found / failed when it cannot be read.
  static Result<ApiKeys> load(const std::string& path);

  bool enabled() const { return !keys_.empty(); }
  size_t size() const { return keys_.size(); }
  // The role of the key in an Authorization header value ("Bearer KEY");
  // kNone when the header is missing, malformed or the key unknown.
  KeyRole role_of(std::string_view authorization) const;

 private:
  struct Key {
    std::string key;
    KeyRole role;
  };
  std::vector<Key> keys_;
};

}  // namespace llmos::http
