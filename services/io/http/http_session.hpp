// HttpSession: one client connection. Reads requests (keep-alive, size limits,
// idle and header timeouts), routes them, and writes replies and SSE streams.
// While a call is pending it keeps reading, so a client that disconnects is
// noticed at once and its generation cancelled. Owned by shared_ptr through
// its pending handlers; every member runs on the socket's strand.
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>

#include "api_error.hpp"
#include "exchange.hpp"
#include "server_context.hpp"

namespace llmos::http {

class HttpSession : public Exchange, public std::enable_shared_from_this<HttpSession> {
 public:
  // `socket` is bound to a strand. `counted`: the session holds one of the
  // server's connection slots (released when it is destroyed).
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerContext> ctx, bool counted);
  ~HttpSession() override;

  void start();
  // Answers 503 (too many connections) and closes.
  void reject();
  // Cancels the pending call and closes the connection (server stop).
  void shutdown();

  void reply(ApiReply reply) override;
  void stream_begin(std::string_view content_type) override;
  void stream_write(std::string data) override;
  void stream_end() override;

 private:
  using error_code = boost::system::error_code;
  bool register_session();  // false when the server is stopping
  void wait_for_request();
  void read_header();
  void on_header(error_code ec);
  void on_body(error_code ec);
  void on_read_error(error_code ec);
  void handle_request();
  void fail_and_close(const ApiError& error);

  void flush();
  void on_write(error_code ec);
  void response_complete();
  void watch_client();
  void on_watch(error_code ec, size_t n);
  void client_gone();

  void arm_deadline(std::chrono::steady_clock::duration d);
  void lingering_close();
  void drain();
  void close();

  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<ServerContext> ctx_;
  bool counted_;
  uint64_t id_ = 0;
  bool registered_ = false;
  boost::asio::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string endpoint_ = "other";
  bool keep_alive_ = true;
  bool chunked_ = true;  // stream with chunked encoding (false for HTTP/1.0: raw, then close)

  std::string out_;       // bytes queued for the client
  std::string writing_;   // bytes of the write in flight
  bool write_pending_ = false;
  bool reading_ = false;        // a request is being read (its deadline runs)
  bool response_done_ = false;  // the current response is fully queued
  bool close_after_ = false;    // close once it is written
  bool watch_pending_ = false;
  bool resume_after_watch_ = false;
  std::shared_ptr<PendingCall> call_;
  bool closing_ = false;  // lingering close in progress
  bool closed_ = false;
  std::string drain_buf_;
};

}  // namespace llmos::http
