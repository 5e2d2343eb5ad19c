#include "llmos/http/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "http_session.hpp"
#include "server_context.hpp"

namespace llmos::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Accepts connections and hands each to an HttpSession on its own strand.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::acceptor acceptor, std::shared_ptr<ServerContext> ctx)
      : ioc_(ioc), acceptor_(std::move(acceptor)), ctx_(std::move(ctx)), retry_(ioc) {}

  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                 tcp::socket socket) {
      self->on_accept(ec, std::move(socket));
    });
  }

  void close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

 private:
  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: wait a little instead of spinning.
      std::fprintf(stderr, "llmos http: accept: %s\n", ec.message().c_str());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e) self->accept();
      });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (ctx_->connections.fetch_add(1) >= ctx_->options.max_connections) {
      ctx_->connections.fetch_sub(1);
      std::make_shared<HttpSession>(std::move(socket), ctx_, /*counted=*/false)->reject();
    } else {
      std::make_shared<HttpSession>(std::move(socket), ctx_, /*counted=*/true)->start();
    }
    accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<ServerContext> ctx_;
  net::steady_timer retry_;
};

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<ServerContext> ctx;  // outlives ioc: sessions destroyed with it use it
  net::io_context ioc;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool stopped = false;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(GenerationBackend& backend, HttpServerOptions options) {
  if (options.io_threads < 1) return invalid_argument("io_threads must be >= 1");
  if (options.max_connections < 1) return invalid_argument("max_connections must be >= 1");
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) return invalid_argument("'" + options.address + "' is not an IP address");
  const std::string where = options.address + ":" + std::to_string(options.port);
  const int io_threads = options.io_threads;

  auto impl = std::make_unique<Impl>();
  std::random_device random;
  const uint64_t salt = (uint64_t(random()) << 32) ^ uint64_t(random());
  impl->ctx = std::make_shared<ServerContext>(backend, std::move(options), salt);
  tcp::acceptor acceptor(impl->ioc);
  const tcp::endpoint endpoint(address, impl->ctx->options.port);
  if (acceptor.open(endpoint.protocol(), ec); ec) return failed("listen on " + where + ": open: " + ec.message());
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) {
    return failed("listen on " + where + ": SO_REUSEADDR: " + ec.message());
  }
  if (acceptor.bind(endpoint, ec); ec) return failed("listen on " + where + ": " + ec.message());
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return failed("listen on " + where + ": " + ec.message());
  }
  const tcp::endpoint bound = acceptor.local_endpoint();

  impl->listener = std::make_shared<Listener>(impl->ioc, std::move(acceptor), impl->ctx);
  impl->listener->accept();
  for (int i = 0; i < io_threads; ++i) impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });

  auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  server->address_ = bound.address().to_string();
  server->port_ = bound.port();
  return server;
}

void HttpServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  ServerContext& ctx = *impl_->ctx;
  ctx.gate->close();  // backend threads post nothing from now on
  ctx.stopping.store(true);
  net::post(impl_->ioc, [listener = impl_->listener] { listener->close(); });
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    std::lock_guard lock(ctx.sessions_mu);
    for (auto& [id, weak] : ctx.sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->shutdown();  // cancels their generations, closes their sockets
  live.clear();
  // Give the connections a moment to finish closing on the I/O threads.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    {
      std::lock_guard lock(ctx.sessions_mu);
      if (ctx.sessions.empty()) break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  ctx.pulls.join_all();  // cancelled with their connections, or told to stop here
  // A prompt being built finishes (its result is dropped at the closed gate);
  // queued ones are dropped.
  ctx.prompt_pool.stop();
  ctx.prompt_pool.join();
  // Anything still open is destroyed with the io_context (in ~Impl).
}

}  // namespace llmos::http
