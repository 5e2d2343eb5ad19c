// HttpServer: the OpenAI-compatible HTTP/1.1 API (completions, chat, models,
// admin, health, metrics) on Boost.Asio + Beast, over a GenerationBackend.
// The server owns its I/O threads and connections; it borrows the backend,
// which must outlive it. start() and stop() are called from one thread.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/http/api_keys.hpp"
#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port())
  int io_threads = 1;
  size_t max_body_bytes = size_t(4) << 20;   // larger bodies get 413
  size_t max_header_bytes = 16 * 1024;       // larger headers get 431
  int max_connections = 512;                 // more get 503 and are closed
  std::chrono::milliseconds header_timeout{10'000};  // to read the headers once a request began; again for the body
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30'000};   // a client that stops reading
  ApiKeys api_keys;                                  // none: no authentication
  std::string models_dir;  // the model store behind Ollama's /api/tags, show, copy, delete, pull ("" = none)
  std::string hf_endpoint = "https://huggingface.co";  // where /api/pull resolves hf: sources ($LLMOS_HF_ENDPOINT)
};

class HttpServer {
 public:
  // Binds, listens and starts the I/O threads. Errors: invalid_argument (bad
  // address), failed ("listen on 127.0.0.1:8080: Address already in use").
  static Result<std::unique_ptr<HttpServer>> start(GenerationBackend& backend, HttpServerOptions options);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  // Closes the listener and every connection, cancels their generations and
  // joins the I/O threads. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace llmos::http
