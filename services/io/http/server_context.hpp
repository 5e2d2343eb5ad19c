// ServerContext: what every connection and call of one HttpServer shares.
// Owned by shared_ptr (server, connections, calls); the backend is borrowed
// and outlives the server. Members are thread-safe or immutable. The prompt
// pool is stopped and joined by HttpServer::stop.
#pragma once
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "exchange.hpp"
#include "llmos/http/generation_backend.hpp"
#include "llmos/http/http_server.hpp"
#include "metrics.hpp"
#include "pull_jobs.hpp"

namespace llmos::http {

class HttpSession;

struct ServerContext {
  ServerContext(GenerationBackend& b, HttpServerOptions o, uint64_t salt)
      : backend(b), options(std::move(o)), id_salt(salt) {}

  GenerationBackend& backend;
  const HttpServerOptions options;
  HttpMetrics metrics;
  const std::shared_ptr<CallbackGate> gate = std::make_shared<CallbackGate>();
  std::atomic<int> connections{0};
  const uint64_t id_salt;  // makes completion ids differ between servers
  std::atomic<uint64_t> next_id{1};
  PullJobs pulls;  // /api/pull downloads; joined by HttpServer::stop()
  // Chat templates are rendered and prompts tokenized here, never on an I/O
  // thread: a long prompt holds a pool thread, not the connections sharing
  // its I/O thread. Its tasks hold their calls weakly (no cycle through the
  // queue) and post results back through `gate`.
  static constexpr int kPromptThreads = 2;
  boost::asio::thread_pool prompt_pool{kPromptThreads};

  // Live connections, so stop() can close them. A session registers itself
  // when it starts and leaves in its destructor; once `stopping` is set a
  // starting session closes at once.
  std::atomic<bool> stopping{false};
  std::mutex sessions_mu;
  std::unordered_map<uint64_t, std::weak_ptr<HttpSession>> sessions;
  uint64_t next_session = 0;
};

}  // namespace llmos::http
