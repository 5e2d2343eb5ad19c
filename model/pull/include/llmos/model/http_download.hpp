// Downloads one URL into a file over HTTP/1.1 (Boost.Beast; HTTPS through
// OpenSSL with the system's CA certificates and host name checks), following
// redirects and resuming a partial file with a Range request. The bytes are
// hashed (SHA-256) as they are written. Blocking; one download per call, any thread.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/model/pull_source.hpp"

namespace llmos::model {

struct DownloadHooks {
  // Bytes in the file so far and the whole size (0 when the server does not
  // say); called at most every 100 ms and once at the end.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Polled every 100 ms: true stops the download (the partial file stays for a resume).
  std::function<bool()> cancelled;
  int idle_timeout_ms = 60000;  // no byte for this long fails the download
  int max_redirects = 10;
};

struct DownloadResult {
  uint64_t size = 0;
  uint64_t resumed_from = 0;    // bytes already in the partial file that the server continued
  std::string sha256;           // of the whole file, lowercase hex
  std::string server_sha256;    // from X-Linked-Etag or ETag when one is a SHA-256 (Hugging Face's), else ""
  HttpUrl final_url;            // after redirects
};

// Appends to `partial_path` from where it ends (a server that ignores Range
// makes it start over). Errors name the URL: failed for network and HTTP
// errors ("HTTP 404 Not Found"), invalid_argument for a bad redirect,
// kFailed "cancelled" when hooks.cancelled said so.
Result<DownloadResult> download_to_file(const HttpUrl& url, const std::string& partial_path,
                                        const DownloadHooks& hooks);

}  // namespace llmos::model
