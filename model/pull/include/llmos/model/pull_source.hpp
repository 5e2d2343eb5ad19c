// Where `llmos pull` fetches a model from: an http(s):// URL, or
// hf:ORG/REPO/FILE.gguf resolved under a Hugging Face endpoint to
// ENDPOINT/ORG/REPO/resolve/main/FILE.gguf. Plain values and pure functions: thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"
#include "llmos/model/model_name.hpp"

namespace llmos::model {

inline constexpr std::string_view kDefaultHfEndpoint = "https://huggingface.co";

struct HttpUrl {
  bool tls = false;       // https
  std::string host;       // without brackets for IPv6
  uint16_t port = 0;      // 80 / 443 when the URL has none
  std::string target;     // path and query, "/" at least
  std::string str() const;
};

// invalid_argument naming `text`: another scheme, no host, a bad port.
Result<HttpUrl> parse_http_url(std::string_view text);
// `location` (a redirect's Location header) relative to `base`.
Result<HttpUrl> resolve_redirect(const HttpUrl& base, std::string_view location);

struct PullSource {
  std::string source;      // as the user gave it (recorded in the manifest)
  HttpUrl url;             // what is downloaded
  ModelName default_name;  // the file name without .gguf
};

// `hf_endpoint` is $LLMOS_HF_ENDPOINT or kDefaultHfEndpoint.
Result<PullSource> resolve_pull_source(std::string_view source, std::string_view hf_endpoint);

}  // namespace llmos::model
