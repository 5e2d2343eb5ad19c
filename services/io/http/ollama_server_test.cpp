// Ollama's /api/generate and /api/chat over the real engine (LocalBackend,
// synthetic model): greedy text equals the OpenAI endpoints', streamed NDJSON
// and whole, with Ollama's fields; refused options get 400 naming them.
#include <doctest/doctest.h>

#include <sstream>

#include "llmos/http/http_server.hpp"
#include "llmos/http/local_backend.hpp"
#include "test_client.hpp"
#include "tiny_model.hpp"

namespace llmos::http {
namespace {

using nlohmann::json;
using testing::Connection;

std::vector<json> ndjson_lines(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

TEST_CASE("Ollama generate and chat give the OpenAI endpoints' greedy text, streamed and whole") {
  LocalBackendOptions bo;
  bo.threads = 1;
  bo.max_seqs = 2;
  bo.kv_tokens = 512;
  LocalBackend backend(bo);
  REQUIRE(backend.load_model_and_wait(LoadParams{testing::tiny_model_path(), "tiny", 128}).ok());
  HttpServerOptions so;
  so.port = 0;
  so.io_threads = 1;
  auto server = HttpServer::start(backend, so);
  REQUIRE(server.ok());
  const uint16_t port = (*server)->port();

  const auto openai = Connection(port).post(
      "/v1/completions", {{"model", "tiny"}, {"prompt", "hello world"}, {"max_tokens", 12}, {"temperature", 0}});
  REQUIRE(openai.status == 200);
  const std::string want = openai.js()["choices"][0]["text"];
  const json options = {{"temperature", 0}, {"num_predict", 12}};

  const auto whole = Connection(port).post(
      "/api/generate", {{"model", "tiny"}, {"prompt", "hello world"}, {"raw", true}, {"stream", false}, {"options", options}});
  REQUIRE(whole.status == 200);
  const json w = whole.js();
  CHECK(w["response"] == want);
  CHECK(w["done"] == true);
  CHECK(w["model"] == "tiny");
  CHECK(w["eval_count"] == openai.js()["usage"]["completion_tokens"]);
  CHECK(w["prompt_eval_count"] == openai.js()["usage"]["prompt_tokens"]);
  CHECK(w["total_duration"].get<int64_t>() >= w["eval_duration"].get<int64_t>());
  CHECK(w.contains("load_duration"));
  CHECK(w.contains("prompt_eval_duration"));
  CHECK(w["done_reason"] == openai.js()["choices"][0]["finish_reason"]);

  const auto streamed =
      Connection(port).post("/api/generate", {{"model", "tiny"}, {"prompt", "hello world"}, {"raw", true}, {"options", options}});
  REQUIRE(streamed.status == 200);
  CHECK(std::string(streamed.headers[boost::beast::http::field::content_type]) == "application/x-ndjson");
  const auto lines = ndjson_lines(streamed.body);
  REQUIRE(lines.size() >= 2);
  std::string text;
  for (const auto& l : lines) text += l["response"].get<std::string>();
  CHECK(text == want);
  CHECK(lines.back()["done"] == true);
  CHECK(lines.back()["eval_count"] == w["eval_count"]);
  for (size_t i = 0; i + 1 < lines.size(); ++i) CHECK(lines[i]["done"] == false);

  const json messages = json::array({{{"role", "user"}, {"content", "hello"}}});
  const auto chat_openai = Connection(port).post(
      "/v1/chat/completions", {{"model", "tiny"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}});
  REQUIRE(chat_openai.status == 200);
  const std::string chat_want = chat_openai.js()["choices"][0]["message"]["content"];
  const auto chat_whole = Connection(port).post(
      "/api/chat", {{"model", "tiny"}, {"messages", messages}, {"stream", false}, {"options", options}});
  REQUIRE(chat_whole.status == 200);
  CHECK(chat_whole.js()["message"]["role"] == "assistant");
  CHECK(chat_whole.js()["message"]["content"] == chat_want);
  const auto chat_streamed =
      Connection(port).post("/api/chat", {{"model", "tiny"}, {"messages", messages}, {"options", options}});
  REQUIRE(chat_streamed.status == 200);
  std::string chat_text;
  for (const auto& l : ndjson_lines(chat_streamed.body)) chat_text += l["message"]["content"].get<std::string>();
  CHECK(chat_text == chat_want);
  // Generate without raw renders the template around the prompt: the chat's text.
  const auto templated = Connection(port).post(
      "/api/generate", {{"model", "tiny"}, {"prompt", "hello"}, {"stream", false}, {"options", options}});
  REQUIRE(templated.status == 200);
  CHECK(templated.js()["response"] == chat_want);

  SUBCASE("/api/ps lists the loaded model with its size and an expiry of never") {
    const auto ps = Connection(port).send(boost::beast::http::verb::get, "/api/ps");
    REQUIRE(ps.status == 200);
    const json models = ps.js()["models"];
    REQUIRE(models.size() == 1);
    CHECK(models[0]["name"] == "tiny");
    CHECK(models[0]["model"] == "tiny");
    CHECK(models[0]["size"].get<uint64_t>() > 0);
    CHECK(models[0]["size_vram"] == 0);
    // `llmos serve --local` never unloads for idleness: Ollama's "forever".
    CHECK(models[0]["expires_at"].get<std::string>().rfind("2318-", 0) == 0);
  }

  SUBCASE("options that cannot be honoured are refused with 400 naming them") {
    auto r = Connection(port).post("/api/generate", {{"model", "tiny"}, {"prompt", "x"}, {"options", {{"num_ctx", 4096}}}});
    CHECK(r.status == 400);
    CHECK(r.js()["error"].get<std::string>().find("num_ctx") != std::string::npos);
    r = Connection(port).post("/api/generate", {{"model", "tiny"}, {"prompt", "x"}, {"stream", false}, {"options", {{"num_ctx", 128}, {"num_predict", 2}}}});
    CHECK(r.status == 200);
    r = Connection(port).post("/api/chat", {{"model", "tiny"}, {"messages", messages}, {"options", {{"mirostat", 2}}}});
    CHECK(r.status == 400);
    CHECK(r.js()["error"].get<std::string>().find("'options.mirostat'") != std::string::npos);
    r = Connection(port).post("/api/generate", {{"model", "nope"}, {"prompt", "x"}});
    CHECK(r.status == 404);
    CHECK(r.js()["error"].get<std::string>().find("'nope'") != std::string::npos);
    r = Connection(port).send(boost::beast::http::verb::get, "/api/generate");
    CHECK(r.status == 405);
    r = Connection(port).post("/api/generate", {{"model", "tiny:latest"}, {"prompt", "x"}});
    CHECK(r.status == 404);
    CHECK(r.js().contains("error"));
  }
}

}  // namespace
}  // namespace llmos::http
