#include "llmos/model/http_download.hpp"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <limits>
#include <optional>
#include <vector>

#include "llmos/model/sha256.hpp"

namespace llmos::model {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr size_t kChunk = 1 << 20;
constexpr size_t kReadBuffer = 1 << 16;  // room for one full-size socket read

// Runs the io_context until `done`, polling hooks.cancelled and the idle
// timeout; on either it closes the connection through `abort`.
Status wait_for(asio::io_context& ioc, const bool& done, const DownloadHooks& hooks, Clock::time_point& last_byte,
                const std::function<void()>& abort, const std::string& what) {
  std::optional<Status> stop;
  while (!done) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(kPoll);
    if (done) break;
    if (!stop && hooks.cancelled && hooks.cancelled()) stop = failed(what + ": cancelled");
    if (!stop && Clock::now() - last_byte > std::chrono::milliseconds(hooks.idle_timeout_ms))
      stop = failed(what + ": no data for " + std::to_string(hooks.idle_timeout_ms / 1000) + " s");
    if (stop) abort();
  }
  if (stop) return *stop;
  return ok_status();
}

// Parses "bytes START-END/TOTAL"; returns START, or nullopt.
std::optional<uint64_t> content_range_start(std::string_view v) {
  if (v.substr(0, 6) != "bytes ") return std::nullopt;
  v.remove_prefix(6);
  uint64_t n = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) n = n * 10 + uint64_t(v[i] - '0');
  if (i == 0 || i >= v.size() || v[i] != '-') return std::nullopt;
  return n;
}

std::string sha256_from_etag(std::string_view v) {
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (!is_sha256_hex(v)) return "";
  std::string s(v);
  for (char& c : s) c = char(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return s;
}

std::string_view sv(beast::string_view v) { return {v.data(), v.size()}; }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// One GET over an open stream. Sets *redirect when the answer is a redirect.
template <class Stream>
Status fetch(asio::io_context& ioc, Stream& stream, const std::function<void()>& abort, const HttpUrl& url,
             int fd, Sha256& hash, const DownloadHooks& hooks, DownloadResult& out, std::optional<HttpUrl>* redirect) {
  const std::string what = "GET " + url.str();
  struct stat st{};
  if (::fstat(fd, &st) != 0) return errno_status("stat the partial download");
  uint64_t have = uint64_t(st.st_size);

  http::request<http::empty_body> req{http::verb::get, url.target, 11};
  req.set(http::field::host, (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) +
                                 (url.port == (url.tls ? 443 : 80) ? "" : ":" + std::to_string(url.port)));
  req.set(http::field::user_agent, "llmos");
  req.set(http::field::accept, "*/*");
  if (have > 0) req.set(http::field::range, "bytes=" + std::to_string(have) + "-");

  Clock::time_point last = Clock::now();
  bool done = false;
  beast::error_code ec;
  http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e, done = true; });
  LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, abort, what));
  if (ec) return failed(what + ": " + ec.message());

  // Beast sizes each socket read by the buffer's free capacity (at least 512
  // bytes, at most 64 KiB): without room it reads the body 512 bytes a time.
  beast::flat_buffer buffer;
  buffer.reserve(kReadBuffer);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: 1.74 compares it as 0
  done = false;
  http::async_read_header(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e, done = true; });
  LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, abort, what));
  if (ec) return failed(what + ": " + ec.message());
  const auto& res = parser.get();
  const unsigned status = res.result_int();
  if (std::string s = sha256_from_etag(sv(res[http::field::etag])); !s.empty()) out.server_sha256 = s;
  if (std::string s = sha256_from_etag(sv(res["X-Linked-Etag"])); !s.empty()) out.server_sha256 = s;
  if (status >= 300 && status < 400 && status != 304) {
    const auto loc = res[http::field::location];
    if (loc.empty()) return failed(what + ": HTTP " + std::to_string(status) + " without a Location");
    auto next = resolve_redirect(url, sv(loc));
    if (!next.ok()) return invalid_argument(what + ": redirect: " + next.status().message());
    *redirect = *next;
    return ok_status();
  }
  if (status == 416 && have > 0) {  // the partial file is not a prefix of this one: start over
    if (::ftruncate(fd, 0) != 0) return errno_status("truncate the partial download");
    hash = Sha256();
    *redirect = url;
    return ok_status();
  }
  if (status != 200 && status != 206)
    return failed(what + ": HTTP " + std::to_string(status) + " " + std::string(sv(res.reason())));
  if (status == 206) {
    const auto start = content_range_start(sv(res[http::field::content_range]));
    if (!start || *start != have) return failed(what + ": the server resumed at another offset");
  } else if (have > 0) {  // the server ignored Range
    if (::ftruncate(fd, 0) != 0) return errno_status("truncate the partial download");
    hash = Sha256();
    have = 0;
  }
  out.resumed_from = have;
  if (have > 0) {  // hash what is already there
    std::vector<char> buf(kChunk);
    uint64_t off = 0;
    while (off < have) {
      const ssize_t n = ::pread(fd, buf.data(), size_t(std::min<uint64_t>(kChunk, have - off)), off_t(off));
      if (n <= 0) return errno_status("read the partial download");
      hash.update(std::string_view(buf.data(), size_t(n)));
      off += uint64_t(n);
    }
  }
  if (::lseek(fd, off_t(have), SEEK_SET) < 0) return errno_status("seek the partial download");
  const uint64_t total = parser.content_length() ? have + *parser.content_length() : 0;
  uint64_t size = have;
  Clock::time_point last_report = Clock::now();
  if (hooks.progress) hooks.progress(size, total);
  std::vector<char> chunk(kChunk);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    done = false;
    http::async_read_some(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e, done = true; });
    LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, abort, what));
    if (ec == http::error::need_buffer) ec = {};
    const size_t n = chunk.size() - parser.get().body().size;  // kept even when the read failed
    for (size_t w = 0; w < n;) {
      const ssize_t k = ::write(fd, chunk.data() + w, n - w);
      if (k < 0) {
        if (errno == EINTR) continue;
        return errno_status("write the partial download");
      }
      w += size_t(k);
    }
    hash.update(std::string_view(chunk.data(), n));
    size += n;
    if (ec) return failed(what + ": " + ec.message() + " after " + std::to_string(size) + " bytes");
    // Also between reads: a steady stream may never leave wait_for idle long
    // enough to look.
    if (hooks.cancelled && hooks.cancelled()) return failed(what + ": cancelled");
    last = Clock::now();
    if (hooks.progress && last - last_report >= kPoll) {
      hooks.progress(size, total);
      last_report = last;
    }
  }
  if (hooks.progress) hooks.progress(size, total);
  out.size = size;
  out.final_url = url;
  return ok_status();
}

}  // namespace

Result<DownloadResult> download_to_file(const HttpUrl& start, const std::string& partial_path,
                                        const DownloadHooks& hooks) {
  Fd fd{::open(partial_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)};
  if (fd.fd < 0) return errno_status("open " + partial_path);
  DownloadResult out;
  HttpUrl url = start;
  Sha256 hash;
  asio::io_context ioc;
  for (int hop = 0;; ++hop) {
    if (hop > hooks.max_redirects)
      return failed("GET " + start.str() + ": more than " + std::to_string(hooks.max_redirects) + " redirects");
    const std::string what = "GET " + url.str();
    Clock::time_point last = Clock::now();
    bool done = false;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(url.host, std::to_string(url.port), [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e, endpoints = std::move(r), done = true;
    });
    LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, [&] { resolver.cancel(); }, what));
    if (ec) return failed(what + ": resolve " + url.host + ": " + ec.message());

    std::optional<HttpUrl> redirect;
    Status st;
    if (!url.tls) {
      beast::tcp_stream stream(ioc);
      auto abort = [&] { stream.socket().close(); };
      done = false;
      stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e, done = true; });
      LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, abort, what));
      if (ec) return failed(what + ": connect: " + ec.message());
      st = fetch(ioc, stream, abort, url, fd.fd, hash, hooks, out, &redirect);
    } else {
      asio::ssl::context tls(asio::ssl::context::tls_client);
      tls.set_default_verify_paths();  // the system's CA certificates (or $SSL_CERT_FILE)
      tls.set_verify_mode(asio::ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
      auto abort = [&] { beast::get_lowest_layer(stream).socket().close(); };
      if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
        return failed(what + ": cannot set the TLS server name");
      stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
      done = false;
      beast::get_lowest_layer(stream).async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
        ec = e, done = true;
      });
      LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, abort, what));
      if (ec) return failed(what + ": connect: " + ec.message());
      done = false;
      stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e, done = true; });
      LLMOS_RETURN_IF_ERROR(wait_for(ioc, done, hooks, last, abort, what));
      if (ec) return failed(what + ": TLS handshake: " + ec.message());
      st = fetch(ioc, stream, abort, url, fd.fd, hash, hooks, out, &redirect);
    }
    LLMOS_RETURN_IF_ERROR(st);
    if (!redirect) break;
    url = *redirect;
  }
  if (::fsync(fd.fd) != 0) return errno_status("fsync " + partial_path);
  out.sha256 = hash.hex_digest();
  return out;
}

}  // namespace llmos::model
