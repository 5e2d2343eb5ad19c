// Test helpers: a blocking HTTP/1.1 client on one loopback connection (Beast)
// and an SSE body splitter. Test-only; one Connection per thread.
#pragma once
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
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

// A blocking test client on one connection; reads time out after 10 s so a
// broken server fails the test instead of hanging it.
class Connection {
 public:
  explicit Connection(uint16_t port) : sock_(ioc_) {
    sock_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  Reply send(bhttp::verb method, const std::string& target, const std::string& body = "",
             const std::string& auth = "") {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!auth.empty()) req.set(bhttp::field::authorization, auth);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(sock_, req);
    return read_reply();
  }
  Reply post(const std::string& target, const json& body, const std::string& auth = "") {
    return send(bhttp::verb::post, target, body.dump(), auth);
  }
  Reply read_reply() {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    bhttp::read(sock_, buf_, p);
    Reply r;
    r.status = p.get().result_int();
    r.body = p.get().body();
    r.headers = p.get().base();
    return r;
  }
  void write_raw(const std::string& bytes) { net::write(sock_, net::buffer(bytes)); }
  // Reads until `needle` arrived (true) or the peer closed (false).
  bool read_until(const std::string& needle) {
    char chunk[4096];
    while (raw_.find(needle) == std::string::npos) {
      boost::system::error_code ec;
      const size_t n = sock_.read_some(net::buffer(chunk), ec);
      if (ec) return false;
      raw_.append(chunk, n);
    }
    return true;
  }
  // Everything up to the server's close.
  std::string read_to_end() {
    read_until(std::string(1, '\0') + "never");
    return raw_;
  }
  // True when the server closes the connection within `limit`.
  bool closed_by_server(std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    char chunk[4096];
    for (;;) {
      boost::system::error_code ec;
      sock_.read_some(net::buffer(chunk), ec);
      if (ec) return std::chrono::steady_clock::now() - start < limit;
    }
  }
  void close() {
    boost::system::error_code ec;
    sock_.close(ec);
  }

 private:
  net::io_context ioc_;
  tcp::socket sock_;
  boost::beast::flat_buffer buf_;
  std::string raw_;
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
