#include "chat_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>

namespace llmos::shell {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr auto kLimit = std::chrono::seconds(600);  // one read or write at most

struct Endpoint {
  std::string host, port;
};

Result<Endpoint> parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return invalid_argument("the HTTP API address '" + url + "' is not http://HOST:PORT");
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && (rest.back() == '/' || rest.back() == '\n')) rest.pop_back();
  Endpoint e;
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon + 1 == rest.size()) {
    return invalid_argument("the HTTP API address '" + url + "' has no port");
  }
  e.host = rest.substr(0, colon);
  e.port = rest.substr(colon + 1);
  if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  return e;
}

// Runs one asynchronous operation to its end, polling `cancel`: a cancelled
// turn closes the socket, which ends the operation (operation_aborted).
class Runner {
 public:
  Runner(net::io_context& io, boost::beast::tcp_stream& stream, const std::atomic<bool>* cancel)
      : io_(io), stream_(stream), cancel_(cancel) {}
  bool cancelled() const { return cancelled_; }

  template <class Start>
  boost::system::error_code run(Start start) {
    bool done = false;
    boost::system::error_code result;
    stream_.expires_after(kLimit);
    start([&](boost::system::error_code ec, std::size_t) {
      done = true;
      result = ec;
    });
    io_.restart();
    while (!done) {
      io_.run_for(kPoll);
      if (!done && !cancelled_ && cancel_ && cancel_->load()) {
        cancelled_ = true;
        boost::system::error_code ignored;
        stream_.socket().close(ignored);
      }
    }
    return result;
  }

 private:
  net::io_context& io_;
  boost::beast::tcp_stream& stream_;
  const std::atomic<bool>* cancel_;
  bool cancelled_ = false;
};

// The OpenAI error body's message, or the body itself.
std::string error_message(int status, const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("message") && j["error"]["message"].is_string()) {
    return j["error"]["message"].get<std::string>();
  }
  return "HTTP " + std::to_string(status) + ": " + body;
}

// One request and its streamed answer. With a 200 and `piece_of`, the body is
// read as server-sent events: each `data: {...}` event's piece (piece_of)
// goes to on_text and joins the reply; an error event fails the request.
struct Answer {
  int status = 0;
  std::string text;  // the reply (streamed), or the body of an answer not streamed
  bool cancelled = false;
};

using PieceOf = std::function<std::optional<std::string>(const json& event)>;

Result<Answer> send(const std::string& base_url, bhttp::verb verb, const std::string& target, const json* body,
                    const std::string& api_key, const PieceOf& piece_of,
                    const std::function<void(std::string_view)>& on_text, const std::atomic<bool>* cancel) {
  LLMOS_ASSIGN_OR_RETURN(Endpoint ep, parse_url(base_url));
  net::io_context io;
  boost::beast::tcp_stream stream(io);
  Runner runner(io, stream, cancel);
  const std::string where = "the HTTP API at " + base_url;
  Answer answer;
  boost::system::error_code ec;
  auto addresses = tcp::resolver(io).resolve(ep.host, ep.port, ec);
  if (ec) return disconnected(where + ": " + ec.message());
  ec = runner.run([&](auto handler) {
    stream.async_connect(addresses, [handler](boost::system::error_code e, const tcp::endpoint&) mutable { handler(e, 0); });
  });
  answer.cancelled = runner.cancelled();
  if (answer.cancelled) return answer;
  if (ec) return disconnected(where + ": " + ec.message() + " (is llmos up with --http?)");

  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, ep.host + ":" + ep.port);
  if (!api_key.empty()) req.set(bhttp::field::authorization, "Bearer " + api_key);
  if (body) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body->dump();
  }
  if (piece_of) req.set(bhttp::field::accept, "text/event-stream");
  req.prepare_payload();
  ec = runner.run([&](auto handler) { bhttp::async_write(stream, req, handler); });
  answer.cancelled = runner.cancelled();
  if (answer.cancelled) return answer;
  if (ec) return disconnected(where + ": " + ec.message());

  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  // No limit; not boost::none, which Boost 1.74 refuses any Content-Length
  // body with (an error answer's): the limit is compared as an optional.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  ec = runner.run([&](auto handler) { bhttp::async_read_header(stream, buffer, parser, handler); });
  answer.cancelled = runner.cancelled();
  if (answer.cancelled) return answer;
  if (ec) return disconnected(where + ": " + ec.message());
  answer.status = int(parser.get().result_int());
  const bool events = piece_of && answer.status == 200;

  std::string raw;    // the body so far, not yet split into events
  std::string error;  // an error event inside the stream
  char chunk[4096];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    ec = runner.run([&](auto handler) { bhttp::async_read(stream, buffer, parser, handler); });
    if (ec == bhttp::error::need_buffer) ec = {};
    raw.append(chunk, sizeof(chunk) - parser.get().body().size);
    if (events) {
      // Server-sent events: "data: {...}\n\n" each.
      size_t end;
      while ((end = raw.find("\n\n")) != std::string::npos) {
        std::string event = raw.substr(0, end);
        raw.erase(0, end + 2);
        if (event.rfind("data: ", 0) != 0) continue;
        const std::string data = event.substr(6);
        if (data == "[DONE]") continue;
        auto j = json::parse(data, nullptr, false);
        if (j.is_discarded() || !j.is_object()) continue;
        if (j.contains("error")) {
          error = error_message(500, data);
          continue;
        }
        if (auto piece = piece_of(j)) {
          answer.text += *piece;
          if (on_text) on_text(*piece);
        }
      }
    }
    answer.cancelled = runner.cancelled();
    if (answer.cancelled) return answer;
    if (ec) return disconnected(where + ": " + ec.message());
  }
  if (!events) answer.text = std::move(raw);
  if (!error.empty()) return failed(error);
  return answer;
}

// The server's error answer as a Status: its message, and for a 401 how the
// chat gives a key.
Status answer_error(const Answer& a) {
  std::string message = error_message(a.status, a.text);
  if (a.status == 401) {
    message += " (give llmos chat the key with --api-key KEY or the environment variable LLMOS_API_KEY)";
  }
  const ErrorCode code = a.status == 404   ? ErrorCode::kNotFound
                         : a.status == 400 ? ErrorCode::kInvalidArgument
                                           : ErrorCode::kFailed;
  return Status(code, message);
}

// The streamed reply of a generation request.
Result<std::string> generate(const std::string& base_url, const std::string& target, const json& body,
                             const ChatTurnOptions& options, const PieceOf& piece_of,
                             const std::function<void(std::string_view)>& on_text, const std::atomic<bool>* cancel) {
  LLMOS_ASSIGN_OR_RETURN(Answer a, send(base_url, bhttp::verb::post, target, &body, options.api_key, piece_of,
                                        on_text, cancel));
  if (a.cancelled || a.status == 200) return std::move(a.text);
  return answer_error(a);
}

json request_body(const ChatTurnOptions& options) {
  json body = {{"model", options.model},
               {"max_tokens", options.max_tokens},
               {"temperature", options.temperature},
               {"stream", true}};
  if (options.seed >= 0) body["seed"] = options.seed;
  return body;
}

// choices[0]'s string at `key` ("delta" -> "content", or "text").
std::optional<std::string> choice_text(const json& event, const char* object, const char* key) {
  if (!event.contains("choices") || !event["choices"].is_array() || event["choices"].empty()) return std::nullopt;
  const json& choice = event["choices"][0];
  const json* holder = &choice;
  if (object) {
    if (!choice.contains(object) || !choice[object].is_object()) return std::nullopt;
    holder = &choice[object];
  }
  if (!holder->contains(key) || !(*holder)[key].is_string()) return std::nullopt;
  return (*holder)[key].get<std::string>();
}

}  // namespace

Result<std::string> chat_turn(const std::string& base_url, const ChatTurnOptions& options, const json& messages,
                              const std::function<void(std::string_view)>& on_text, const std::atomic<bool>* cancel) {
  json body = request_body(options);
  body["messages"] = messages;
  return generate(base_url, "/v1/chat/completions", body, options,
                  [](const json& e) { return choice_text(e, "delta", "content"); }, on_text, cancel);
}

Result<std::string> completion_turn(const std::string& base_url, const ChatTurnOptions& options,
                                    const std::vector<int32_t>& prompt_ids,
                                    const std::function<void(std::string_view)>& on_text,
                                    const std::atomic<bool>* cancel) {
  json body = request_body(options);
  body["prompt"] = prompt_ids;
  return generate(base_url, "/v1/completions", body, options,
                  [](const json& e) { return choice_text(e, nullptr, "text"); }, on_text, cancel);
}

Status check_api_key(const std::string& base_url, const ChatTurnOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(Answer a, send(base_url, bhttp::verb::get, "/v1/models", nullptr, options.api_key, nullptr,
                                        nullptr, nullptr));
  if (a.status == 200) return ok_status();
  return answer_error(a);
}

}  // namespace llmos::shell
