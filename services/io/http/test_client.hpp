// Test helpers: a blocking HTTP/1.1 client on one loopback connection (Beast)
// and an SSE body splitter. Test-only; one Connection per thread.
#pragma once
#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llmos::http::testing {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
  bhttp::fields headers;
  json js() const { return json::parse(body); }
};

// A blocking test client on one connection. Every read and write has a 30 s
// limit (Asio's blocking calls ignore SO_RCVTIMEO, so the operations are run
// asynchronously under a deadline): a broken server fails the test with a
// message instead of hanging it.
class Connection {
 public:
  static constexpr std::chrono::seconds kLimit{30};

  explicit Connection(uint16_t port) : stream_(ioc_) {
    stream_.expires_after(kLimit);
    boost::system::error_code ec;
    stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                          [&](boost::system::error_code e) { ec = e; });
    run();
    if (ec) throw boost::system::system_error(ec, "connect to port " + std::to_string(port));
  }

  Reply send(bhttp::verb method, const std::string& target, const std::string& body = "",
             const std::string& auth = "") {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!auth.empty()) req.set(bhttp::field::authorization, auth);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    boost::system::error_code ec;
    stream_.expires_after(kLimit);
    bhttp::async_write(stream_, req, [&](boost::system::error_code e, size_t) { ec = e; });
    run();
    if (ec) throw boost::system::system_error(ec, "write " + target);
    return read_reply(target);
  }
  Reply post(const std::string& target, const json& body, const std::string& auth = "") {
    return send(bhttp::verb::post, target, body.dump(), auth);
  }
  Reply read_reply(const std::string& what = "reply") {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    boost::system::error_code ec;
    stream_.expires_after(kLimit);
    bhttp::async_read(stream_, buf_, p, [&](boost::system::error_code e, size_t) { ec = e; });
    run();
    if (ec) throw boost::system::system_error(ec, "read the reply to " + what);
    Reply r;
    r.status = p.get().result_int();
    r.body = p.get().body();
    r.headers = p.get().base();
    return r;
  }
  void write_raw(const std::string& bytes) {
    boost::system::error_code ec;
    stream_.expires_after(kLimit);
    net::async_write(stream_, net::buffer(bytes), [&](boost::system::error_code e, size_t) { ec = e; });
    run();
    if (ec) throw boost::system::system_error(ec, "write");
  }
  // Reads until `needle` arrived (true) or the peer closed or went silent for
  // the limit (false).
  bool read_until(const std::string& needle) {
    char chunk[4096];
    while (raw_.find(needle) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = 0;
      stream_.expires_after(kLimit);
      stream_.async_read_some(net::buffer(chunk), [&](boost::system::error_code e, size_t k) {
        ec = e;
        n = k;
      });
      run();
      if (ec) {
        timed_out_ = ec == boost::beast::error::timeout;
        return false;
      }
      raw_.append(chunk, n);
    }
    return true;
  }
  // Everything up to the server's close (or the limit; see timed_out()).
  std::string read_to_end() {
    read_until(std::string(1, '\0') + "never");
    return raw_;
  }
  // True when the last read_until stopped because the server went silent.
  bool timed_out() const { return timed_out_; }
  // True when the server closes the connection within `limit`.
  bool closed_by_server(std::chrono::milliseconds limit) {
    char chunk[4096];
    stream_.expires_after(limit);
    for (;;) {
      boost::system::error_code ec;
      stream_.async_read_some(net::buffer(chunk), [&](boost::system::error_code e, size_t) { ec = e; });
      run();
      if (ec) return ec != boost::beast::error::timeout;
    }
  }
  void close() {
    boost::system::error_code ec;
    stream_.socket().close(ec);
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }
  net::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buf_;
  std::string raw_;
  bool timed_out_ = false;
};

// The data payloads of an SSE body; REQUIREs the framing.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < body.size()) {
    const size_t end = body.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    const std::string event = body.substr(at, end - at);
    REQUIRE(event.starts_with("data: "));
    REQUIRE(event.find('\n') == std::string::npos);
    out.push_back(event.substr(6));
    at = end + 2;
  }
  return out;
}

}  // namespace llmos::http::testing
