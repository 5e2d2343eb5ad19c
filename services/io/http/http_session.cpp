#include "http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

#include "api_routes.hpp"
#include "metrics.hpp"

namespace llmos::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxPipelinedBytes = 64 * 1024;  // read ahead while a call runs
constexpr auto kLingerTime = std::chrono::seconds(2);

std::string chunk(std::string_view data) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size, size_t(n));
  out.append(data).append("\r\n");
  return out;
}

}  // namespace

HttpSession::HttpSession(tcp::socket socket, std::shared_ptr<ServerContext> ctx, bool counted)
    : socket_(std::move(socket)), ctx_(std::move(ctx)), counted_(counted), deadline_(socket_.get_executor()) {
  if (counted_) ctx_->metrics.connection_opened();
}

HttpSession::~HttpSession() {
  if (call_) call_->cancel();
  if (registered_) {
    std::lock_guard lock(ctx_->sessions_mu);
    ctx_->sessions.erase(id_);
  }
  if (counted_) {
    ctx_->metrics.connection_closed();
    ctx_->connections.fetch_sub(1);
  }
}

bool HttpSession::register_session() {
  {
    std::lock_guard lock(ctx_->sessions_mu);
    id_ = ctx_->next_session++;
    ctx_->sessions.emplace(id_, weak_from_this());
    registered_ = true;
  }
  // Registered first, checked second: stop() sets the flag before it looks at
  // the registry, so either it sees this session or this session sees the flag.
  return !ctx_->stopping.load();
}

void HttpSession::start() {
  const bool run = register_session();
  net::dispatch(socket_.get_executor(), [self = shared_from_this(), run] {
    if (run) self->wait_for_request();
    else self->close();
  });
}

void HttpSession::shutdown() {
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->client_gone(); });
}

void HttpSession::reject() {
  if (!register_session()) {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
    return;
  }
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->keep_alive_ = false;
    self->ctx_->metrics.count_request("other", "unavailable");
    self->fail_and_close(ApiError{503, "the server is at its limit of " +
                                           std::to_string(self->ctx_->options.max_connections) + " connections",
                                  "unavailable_error", "too_many_connections", ""});
  });
}

// ---- reading ------------------------------------------------------------------

void HttpSession::wait_for_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(uint32_t(ctx_->options.max_header_bytes));
  parser_->body_limit(ctx_->options.max_body_bytes);
  endpoint_ = "other";
  if (buffer_.size() > 0) {
    read_header();
    return;
  }
  arm_deadline(ctx_->options.idle_timeout);
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (self->closed_) return;
    if (ec) return self->close();
    self->read_header();
  });
}

void HttpSession::read_header() {
  reading_ = true;
  arm_deadline(ctx_->options.header_timeout);
  bhttp::async_read_header(socket_, buffer_, *parser_,
                           [self = shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
}

void HttpSession::on_header(error_code ec) {
  if (ec) return on_read_error(ec);
  auto& req = parser_->get();
  endpoint_ = std::string(endpoint_of(std::string_view(req.target().data(), req.target().size())));
  if (!parser_->is_done() && beast::iequals(req[bhttp::field::expect], "100-continue")) {
    out_ += "HTTP/1.1 100 Continue\r\n\r\n";
    flush();
  }
  arm_deadline(ctx_->options.header_timeout);
  bhttp::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
}

void HttpSession::on_body(error_code ec) {
  reading_ = false;
  if (ec) return on_read_error(ec);
  deadline_.cancel();
  handle_request();
}

void HttpSession::on_read_error(error_code ec) {
  reading_ = false;
  if (closed_ || closing_) return;
  if (ec == bhttp::error::body_limit) {
    ctx_->metrics.count_request(endpoint_, "too_large");
    return fail_and_close(payload_too_large("the request body is larger than the limit of " +
                                            std::to_string(ctx_->options.max_body_bytes) + " bytes"));
  }
  if (ec == bhttp::error::header_limit) {
    ctx_->metrics.count_request(endpoint_, "too_large");
    return fail_and_close(ApiError{431, "the request header is larger than the limit of " +
                                            std::to_string(ctx_->options.max_header_bytes) + " bytes",
                                   "invalid_request_error", "header_too_large", ""});
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    ctx_->metrics.count_request(endpoint_, "bad_request");
    return fail_and_close(bad_request("malformed HTTP request: " + ec.message()));
  }
  close();  // end of stream, timeout, reset
}

void HttpSession::handle_request() {
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  chunked_ = req.version() >= 11;
  ApiRequest api;
  api.method = req.method();
  api.target = std::string(req.target());
  api.authorization = std::string(req[bhttp::field::authorization]);
  api.body = std::move(req.body());
  api.received = std::chrono::steady_clock::now();
  Routed routed = route_request(ctx_, std::move(api), weak_from_this(), socket_.get_executor());
  if (routed.reply) return reply(std::move(*routed.reply));
  call_ = std::move(routed.call);
  watch_client();
  call_->start();
}

void HttpSession::fail_and_close(const ApiError& error) {
  keep_alive_ = false;
  close_after_ = true;
  reply(error_reply(error));
}

// ---- Exchange -------------------------------------------------------------------

void HttpSession::reply(ApiReply r) {
  if (closed_) return;
  bhttp::response<bhttp::string_body> res{bhttp::status(r.status), 11};
  res.set(bhttp::field::server, "llmos");
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive_);
  res.body() = std::move(r.body);
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  out_ += os.str();
  response_done_ = true;
  flush();
}

void HttpSession::stream_begin(std::string_view content_type) {
  if (closed_) return;
  bhttp::response<bhttp::empty_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::server, "llmos");
  res.set(bhttp::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
  res.set(bhttp::field::cache_control, "no-cache");
  if (!chunked_) keep_alive_ = false;  // HTTP/1.0: the body ends when the connection does
  res.keep_alive(keep_alive_);
  res.chunked(chunked_);
  std::ostringstream os;
  os << res.base();
  out_ += os.str();
  flush();
}

void HttpSession::stream_write(std::string data) {
  if (closed_ || data.empty()) return;
  out_ += chunked_ ? chunk(data) : data;
  flush();
}

void HttpSession::stream_end() {
  if (closed_) return;
  if (chunked_) out_ += "0\r\n\r\n";
  response_done_ = true;
  if (!write_pending_ && out_.empty()) return response_complete();
  flush();
}

// ---- writing ---------------------------------------------------------------------

void HttpSession::flush() {
  if (write_pending_ || out_.empty() || closed_) return;
  write_pending_ = true;
  writing_.swap(out_);
  out_.clear();
  if (!reading_) arm_deadline(ctx_->options.write_timeout);  // else the read's deadline covers it
  net::async_write(socket_, net::buffer(writing_),
                   [self = shared_from_this()](error_code ec, size_t) { self->on_write(ec); });
}

void HttpSession::on_write(error_code ec) {
  write_pending_ = false;
  writing_.clear();
  if (closed_) return;
  if (ec) return client_gone();
  if (!out_.empty()) return flush();
  if (!reading_ && !closing_) deadline_.cancel();
  if (response_done_) response_complete();
}

void HttpSession::response_complete() {
  response_done_ = false;
  call_.reset();
  if (close_after_ || !keep_alive_) return lingering_close();
  if (watch_pending_) {
    // The read that watched for a disconnect must finish before the next request is read.
    resume_after_watch_ = true;
    error_code ignored;
    socket_.cancel(ignored);
    return;
  }
  wait_for_request();
}

// ---- noticing a client that goes away -------------------------------------------

void HttpSession::watch_client() {
  if (watch_pending_ || closed_ || buffer_.size() >= kMaxPipelinedBytes) return;
  watch_pending_ = true;
  socket_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, size_t n) {
    self->on_watch(ec, n);
  });
}

void HttpSession::on_watch(error_code ec, size_t n) {
  watch_pending_ = false;
  if (!ec) buffer_.commit(n);  // a pipelined request: keep it for later
  if (closed_) return;
  if (closing_) return drain();
  if (resume_after_watch_) {
    resume_after_watch_ = false;
    return wait_for_request();
  }
  if (ec) return client_gone();
  if (call_) watch_client();
}

void HttpSession::client_gone() {
  if (call_) {
    call_->cancel();
    call_.reset();
  }
  close();
}

// ---- timeouts and closing ---------------------------------------------------------

void HttpSession::arm_deadline(std::chrono::steady_clock::duration d) {
  deadline_.expires_after(d);
  deadline_.async_wait([self = shared_from_this()](error_code ec) {
    // A wait cancelled by a re-arm, or one whose expiry moved on, is not a timeout.
    if (ec || self->deadline_.expiry() > std::chrono::steady_clock::now()) return;
    self->client_gone();
  });
}

void HttpSession::lingering_close() {
  // Stop sending, then read (and drop) what the client still sends for a
  // moment: closing with unread input would reset the connection and could
  // destroy the error reply before the client reads it.
  if (closed_ || closing_) return;
  closing_ = true;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm_deadline(kLingerTime);
  drain_buf_.resize(16 * 1024);
  if (watch_pending_) {
    socket_.cancel(ignored);  // on_watch drains next
    return;
  }
  drain();
}

void HttpSession::drain() {
  socket_.async_read_some(net::buffer(drain_buf_), [self = shared_from_this()](error_code ec, size_t n) {
    if (self->closed_) return;
    if (ec || n == 0) return self->close();
    self->drain();
  });
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  deadline_.cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace llmos::http
