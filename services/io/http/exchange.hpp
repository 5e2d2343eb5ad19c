// The seam between a connection (HttpSession) and the API logic: one request
// in (ApiRequest), its answer out through an Exchange, whole or streamed.
// A PendingCall is a request answered later (a generation, a model load); the
// connection owns it while it runs and cancels it when the client goes away.
// Exchange and PendingCall methods run on the connection's executor (a strand).
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>

namespace llmos::http {

struct ApiRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;         // path and query, as sent
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;
  std::chrono::steady_clock::time_point received;
};

struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  // A whole response; ends the exchange.
  virtual void reply(ApiReply reply) = 0;
  // A stream: 200 with `content_type` (server-sent events, or Ollama's
  // application/x-ndjson), then data, then end (which ends the exchange).
  virtual void stream_begin(std::string_view content_type) = 0;
  virtual void stream_write(std::string data) = 0;
  virtual void stream_end() = 0;
};

class PendingCall {
 public:
  virtual ~PendingCall() = default;
  virtual void start() = 0;
  // The client went away: stop the work; nothing more is sent.
  virtual void cancel() = 0;
};

// Lets backend threads post to the I/O threads until the server stops: run()
// holds the lock while it posts, close() waits for it and refuses later runs,
// so nothing is posted to an io_context being destroyed. A run() may nest in
// another on the same thread (a call destroyed inside one releases through it).
class CallbackGate {
 public:
  template <class F>
  bool run(F&& f) {
    std::lock_guard lock(mu_);
    if (!open_) return false;
    f();
    return true;
  }
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }

 private:
  std::recursive_mutex mu_;
  bool open_ = true;
};

// A callback for a backend thread that runs handler(target, arg) on the
// target's executor (target.executor()). It holds the target weakly and
// touches the executor only inside the gate, so it may outlive the server
// and its io_context (backends keep callbacks until their done event).
template <class T, class Arg, class Handler>
std::function<void(Arg)> strand_callback(std::shared_ptr<CallbackGate> gate, std::weak_ptr<T> weak, Handler handler) {
  return [gate = std::move(gate), weak = std::move(weak), handler](Arg arg) {
    gate->run([&] {
      auto target = weak.lock();
      if (!target) return;
      boost::asio::post(target->executor(), [weak, handler, arg = std::move(arg)]() mutable {
        if (auto t = weak.lock()) handler(*t, std::move(arg));
      });
      // `target` goes here, inside the gate: even as the last owner, the
      // io_context its executor belongs to is still alive.
    });
  };
}

}  // namespace llmos::http
