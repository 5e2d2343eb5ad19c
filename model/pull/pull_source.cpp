#include "llmos/model/pull_source.hpp"

#include <charconv>

namespace llmos::model {
namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string HttpUrl::str() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = port == (tls ? 443 : 80);
  return std::string(tls ? "https://" : "http://") + h + (default_port ? "" : ":" + std::to_string(port)) + target;
}

Result<HttpUrl> parse_http_url(std::string_view text) {
  HttpUrl u;
  std::string_view rest;
  if (starts_with_nocase(text, "http://")) {
    rest = text.substr(7);
  } else if (starts_with_nocase(text, "https://")) {
    u.tls = true;
    rest = text.substr(8);
  } else {
    return invalid_argument("'" + std::string(text) + "': not an http:// or https:// URL");
  }
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (const size_t hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
  if (authority.find('@') != std::string_view::npos)
    return invalid_argument("'" + std::string(text) + "': user names in URLs are not supported");
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid_argument("'" + std::string(text) + "': unclosed '['");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid_argument("'" + std::string(text) + "': bad host");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return invalid_argument("'" + std::string(text) + "': no host");
  u.port = u.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned v = 0;
    auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || v == 0 || v > 65535)
      return invalid_argument("'" + std::string(text) + "': bad port '" + std::string(port_text) + "'");
    u.port = uint16_t(v);
  }
  return u;
}

Result<HttpUrl> resolve_redirect(const HttpUrl& base, std::string_view location) {
  const size_t colon = location.find(':');
  if (colon != std::string_view::npos && location.substr(0, colon).find_first_of("/?#") == std::string_view::npos)
    return parse_http_url(location);  // absolute: http(s), or another scheme refused naming it
  if (location.substr(0, 2) == "//") return parse_http_url((base.tls ? "https:" : "http:") + std::string(location));
  HttpUrl u = base;
  if (!location.empty() && location[0] == '/') {
    u.target = std::string(location);
  } else {
    std::string dir = base.target.substr(0, base.target.find('?'));
    dir.resize(dir.rfind('/') + 1);
    u.target = dir + std::string(location);
  }
  return u;
}

Result<PullSource> resolve_pull_source(std::string_view source, std::string_view hf_endpoint) {
  PullSource p;
  p.source = std::string(source);
  std::string file;
  if (source.substr(0, 3) == "hf:") {
    const std::string_view path = source.substr(3);
    const size_t a = path.find('/');
    const size_t b = a == std::string_view::npos ? a : path.find('/', a + 1);
    if (b == std::string_view::npos || a == 0 || b == a + 1 || b + 1 >= path.size())
      return invalid_argument("'" + std::string(source) + "': expected hf:ORG/REPO/FILE.gguf");
    for (char c : path)
      if (c == '?' || c == '#' || c == ' ' || c == '%' || c == '\\')
        return invalid_argument("'" + std::string(source) + "': '" + std::string(1, c) + "' in a Hugging Face path");
    std::string endpoint(hf_endpoint);
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    const std::string url = endpoint + "/" + std::string(path.substr(0, b)) + "/resolve/main/" +
                            std::string(path.substr(b + 1));
    auto parsed = parse_http_url(url);
    if (!parsed.ok()) return invalid_argument("LLMOS_HF_ENDPOINT: " + parsed.status().message());
    p.url = *parsed;
    file = std::string(path.substr(path.rfind('/') + 1));
  } else {
    LLMOS_ASSIGN_OR_RETURN(p.url, parse_http_url(source));
    std::string_view target = std::string_view(p.url.target).substr(0, p.url.target.find('?'));
    file = std::string(target.substr(target.rfind('/') + 1));
  }
  auto name = model_name_from_file(file);
  if (!name.ok()) return invalid_argument("'" + std::string(source) + "': no model name in the URL; pass --name");
  p.default_name = *name;
  return p;
}

}  // namespace llmos::model
