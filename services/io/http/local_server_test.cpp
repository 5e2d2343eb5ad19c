// The HTTP server over the real engine (LocalBackend, synthetic model) with
// many clients at once, some leaving mid-stream, and a server stopped while
// generations run: every answer is whole and nothing leaks or crashes.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "llmos/http/http_server.hpp"
#include "llmos/http/local_backend.hpp"
#include "test_client.hpp"
#include "tiny_model.hpp"

namespace llmos::http {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;
using testing::Connection;

std::string streamed_text(const std::string& body) {
  std::string text;
  const auto events = testing::sse_data(body);
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    if (!e["choices"].empty()) text += e["choices"][0]["text"].get<std::string>();
  }
  return text;
}

TEST_CASE("concurrent clients on the real engine get the same greedy text as one client alone") {
  LocalBackendOptions bo;
  bo.threads = 1;
  bo.max_seqs = 4;
  bo.kv_tokens = 1024;
  LocalBackend backend(bo);
  REQUIRE(backend.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 128}).ok());
  HttpServerOptions so;
  so.port = 0;
  so.io_threads = 2;
  auto server = HttpServer::start(backend, so);
  REQUIRE(server.ok());
  const uint16_t port = (*server)->port();

  const json req = {{"model", "tiny"}, {"prompt", "hello world"}, {"max_tokens", 20}, {"temperature", 0}};
  const auto first = Connection(port).post("/v1/completions", req);
  REQUIRE(first.status == 200);
  const std::string want = first.js()["choices"][0]["text"];

  std::atomic<int> same{0}, answered{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      Connection c(port);
      for (int i = 0; i < 4; ++i) {
        json r = req;
        const bool stream = (t + i) % 2 == 0;
        r["stream"] = stream;
        const auto reply = c.post("/v1/completions", r);
        if (reply.status != 200) continue;
        ++answered;
        const std::string text = stream ? streamed_text(reply.body) : reply.js()["choices"][0]["text"].get<std::string>();
        if (text == want) ++same;
      }
    });
  }
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      // Leaves as soon as the stream has begun.
      Connection c(port);
      json r = req;
      r["stream"] = true;
      r["max_tokens"] = 100;
      const std::string body = r.dump();
      c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\n\r\n" + body);
      c.read_until("data: ");
      c.close();
    });
  }
  for (auto& t : clients) t.join();
  CHECK(answered == 24);
  CHECK(same == 24);
  CHECK(Connection(port).send(bhttp::verb::get, "/health/ready").status == 200);
}

TEST_CASE("stopping the server while generations stream closes them and cancels their work") {
  LocalBackendOptions bo;
  bo.threads = 1;
  LocalBackend backend(bo);
  REQUIRE(backend.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 0}).ok());
  HttpServerOptions so;
  so.port = 0;
  auto server = HttpServer::start(backend, so);
  REQUIRE(server.ok());
  std::vector<std::unique_ptr<Connection>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(std::make_unique<Connection>((*server)->port()));
    const std::string body =
        json{{"model", "tiny"}, {"prompt", "hello"}, {"max_tokens", 250}, {"stream", true}}.dump();
    streams.back()->write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
    REQUIRE(streams.back()->read_until("data: "));
  }
  (*server)->stop();
  for (auto& s : streams) CHECK(s->closed_by_server(std::chrono::seconds(5)));
  server->reset();  // the backend outlives the server
}

}  // namespace
}  // namespace llmos::http
