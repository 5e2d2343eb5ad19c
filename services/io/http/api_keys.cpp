#include "llmos/http/api_keys.hpp"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace llmos::http {
namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Compares without an early exit, so timing does not tell how much matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) diff |= unsigned(uint8_t(a[i]) ^ uint8_t(b.empty() ? 0 : b[i % b.size()]));
  return diff == 0;
}

}  // namespace

Result<ApiKeys> ApiKeys::parse(std::string_view text, std::string_view source) {
  ApiKeys keys;
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = std::string(source) + ":" + std::to_string(line_no);
    KeyRole role = KeyRole::kUser;
    if (line.starts_with("admin:")) {
      role = KeyRole::kAdmin;
      line = trim(line.substr(6));
    }
    if (line.empty()) return invalid_argument(where + ": empty key after 'admin:'");
    if (line.find_first_of(" \t") != std::string_view::npos) {
      return invalid_argument(where + ": a key must not contain spaces");
    }
    keys.keys_.push_back(Key{std::string(line), role});
  }
  if (keys.keys_.empty()) return invalid_argument(std::string(source) + ": no API keys in the file");
  return keys;
}

Result<ApiKeys> ApiKeys::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return not_found(path + ": no such API keys file");
    return failed(path + ": cannot read the API keys file: " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

KeyRole ApiKeys::role_of(std::string_view authorization) const {
  std::string_view v = trim(authorization);
  constexpr std::string_view kScheme = "bearer ";
  if (v.size() <= kScheme.size()) return KeyRole::kNone;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != kScheme[i]) return KeyRole::kNone;
  }
  v = trim(v.substr(kScheme.size()));
  KeyRole role = KeyRole::kNone;
  for (const Key& k : keys_) {
    if (same_secret(v, k.key) && k.role > role) role = k.role;
  }
  return role;
}

}  // namespace llmos::http
