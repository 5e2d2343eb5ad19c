// The HTTP server over real loopback sockets, with a scripted backend: the
// API's answers, its limits, and that a misbehaving client never stops the
// server from serving everyone else.
#include "llmos/http/http_server.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <future>
#include <thread>
#include <vector>

#include "fake_backend.hpp"
#include "test_client.hpp"

namespace llmos::http {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;
using testing::Connection;
using testing::Reply;
using testing::sse_data;
using namespace std::chrono_literals;

struct Server {
  testing::FakeBackend backend;  // outlives the server
  std::unique_ptr<HttpServer> server;

  explicit Server(HttpServerOptions o = {}) {
    o.port = 0;
    auto s = HttpServer::start(backend, std::move(o));
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    server = std::move(*s);
  }
  uint16_t port() const { return server->port(); }
  Connection connect() const { return Connection(port()); }
  // A good request still gets a good answer.
  void check_still_serving() const {
    auto r = connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 2}});
    CHECK(r.status == 200);
  }
};

TEST_CASE("non-streaming completion: OpenAI's shape, usage, and the sampling sent to the backend") {
  Server s;
  auto r = s.connect().post("/v1/completions",
                            {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 4}, {"temperature", 0}, {"seed", 9}});
  REQUIRE(r.status == 200);
  CHECK(r.headers[bhttp::field::content_type] == "application/json");
  const json j = r.js();
  CHECK(j["object"] == "text_completion");
  CHECK(j["model"] == "fake");
  CHECK(j["choices"][0]["text"] == "Once upon a time");
  CHECK(j["choices"][0]["finish_reason"] == "length");
  CHECK(j["usage"] == json{{"prompt_tokens", 3}, {"completion_tokens", 4}, {"total_tokens", 7}});
  const auto sent = s.backend.submitted();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].prompt == std::vector<int32_t>{1, 'H' + 3, 'i' + 3});
  CHECK(sent[0].sampling.temperature == 0);
  CHECK(sent[0].sampling.seed == 9);
  CHECK(sent[0].max_tokens == 4);
}

TEST_CASE("a request for a stored model that is not loaded loads it on demand; an unknown one is 404") {
  Server s;
  s.backend.on_demand = true;
  s.backend.stored = {"lazy"};
  auto r = s.connect().post("/v1/completions", {{"model", "lazy"}, {"prompt", "Hi"}, {"max_tokens", 2}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.js()["model"] == "lazy:latest");
  CHECK(s.backend.ensure_calls == 1);
  auto o = s.connect().post("/api/generate", {{"model", "lazy"}, {"prompt", "Hi"}, {"stream", false},
                                               {"keep_alive", "10m"}, {"options", {{"num_predict", 2}}}});
  REQUIRE_MESSAGE(o.status == 200, o.body);
  CHECK(s.backend.ensure_calls == 2);  // loaded now (as "lazy:latest"), and still asked for
  const auto sent = s.backend.submitted();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].model == "lazy:latest");
  CHECK(sent[1].keep_alive == "10m");
  auto unknown = s.connect().post("/api/generate", {{"model", "nosuch"}, {"prompt", "Hi"}});
  CHECK(unknown.status == 404);
  CHECK(unknown.js()["error"].get<std::string>().find("nosuch") != std::string::npos);
  auto openai_unknown = s.connect().post("/v1/chat/completions",
                                         {{"model", "nosuch"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}});
  CHECK(openai_unknown.status == 404);
  CHECK(openai_unknown.js()["error"]["code"] == "model_not_found");
  // Ollama's keep_alive 0 without a prompt unloads; without keep_alive it loads.
  auto unload = s.connect().post("/api/generate", {{"model", "lazy"}, {"keep_alive", 0}});
  REQUIRE_MESSAGE(unload.status == 200, unload.body);
  CHECK(unload.js()["done_reason"] == "unload");
  CHECK(unload.js()["model"] == "lazy:latest");
  CHECK_FALSE(s.backend.list_models()->back().name == "lazy:latest");
  const int asked = s.backend.ensure_calls;
  auto load = s.connect().post("/api/chat", {{"model", "lazy"}, {"messages", json::array()}});
  REQUIRE_MESSAGE(load.status == 200, load.body);
  CHECK(load.js()["done_reason"] == "load");
  CHECK(load.js()["message"]["content"] == "");
  CHECK(s.backend.ensure_calls == asked + 1);
  // Each load on demand reserves the model for its request: the request it
  // submits names the reservation, and it is released when the request ends
  // (used or not: the load-only request never submits).
  CHECK(sent[0].reservation == 1);
  CHECK(sent[1].reservation == 2);  // loaded already: asked for all the same, and reserved
  const auto released_once = [&](uint64_t id) {
    auto r = s.backend.released();
    return std::count(r.begin(), r.end(), id) == 1;
  };
  for (int i = 0; i < 500 && !(released_once(1) && released_once(2) && released_once(uint64_t(asked + 1))); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(released_once(1));
  CHECK(released_once(2));
  CHECK(released_once(uint64_t(asked + 1)));
}

TEST_CASE("with load on demand a request for a model listed ready still asks for it and submits its reservation") {
  // A model the kernel has begun to unload may still be listed ready; the ask
  // (ensure_model) is what waits for the unload and loads it again, so every
  // generation request asks, once, and its submit carries the reservation.
  Server s;
  s.backend.on_demand = true;
  const json messages = {{{"role", "user"}, {"content", "Hi"}}};
  auto c = s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 2}});
  REQUIRE_MESSAGE(c.status == 200, c.body);
  CHECK(s.backend.ensure_calls == 1);
  auto chat = s.connect().post("/v1/chat/completions", {{"model", "fake"}, {"messages", messages}, {"max_tokens", 2}});
  REQUIRE_MESSAGE(chat.status == 200, chat.body);
  CHECK(s.backend.ensure_calls == 2);
  auto any = s.connect().post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 2}});  // the first ready model
  REQUIRE_MESSAGE(any.status == 200, any.body);
  CHECK(any.js()["model"] == "fake");
  CHECK(s.backend.ensure_calls == 3);
  auto gen = s.connect().post("/api/generate", {{"model", "fake"}, {"prompt", "Hi"}, {"stream", false},
                                                 {"options", {{"num_predict", 2}}}});
  REQUIRE_MESSAGE(gen.status == 200, gen.body);
  CHECK(s.backend.ensure_calls == 4);
  auto ochat = s.connect().post("/api/chat", {{"model", "fake"}, {"messages", messages}, {"stream", false},
                                               {"options", {{"num_predict", 2}}}});
  REQUIRE_MESSAGE(ochat.status == 200, ochat.body);
  CHECK(s.backend.ensure_calls == 5);
  const auto sent = s.backend.submitted();
  REQUIRE(sent.size() == 5);
  for (size_t i = 0; i < sent.size(); ++i) {
    CHECK(sent[i].model == "fake");
    CHECK(sent[i].reservation == i + 1);
  }
  const auto all_released = [&] {
    auto r = s.backend.released();
    for (uint64_t id = 1; id <= 5; ++id) {
      if (std::count(r.begin(), r.end(), id) != 1) return false;
    }
    return true;
  };
  for (int i = 0; i < 500 && !all_released(); ++i) std::this_thread::sleep_for(10ms);
  CHECK(all_released());

  // An ask that fails is the request's answer; nothing is submitted.
  s.backend.ensure_failure = disconnected("llmosd is shutting down");
  auto failed = s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 2}});
  CHECK(failed.status == 503);
  CHECK(failed.js()["error"]["message"] == "llmosd is shutting down");
  auto ofailed = s.connect().post("/api/chat", {{"model", "fake"}, {"messages", messages}, {"stream", false}});
  CHECK(ofailed.status == 503);
  CHECK(ofailed.js()["error"] == "llmosd is shutting down");
  CHECK(s.backend.ensure_calls == 7);
  CHECK(s.backend.submitted().size() == 5);
}

TEST_CASE("without load on demand a request for a ready model is submitted without asking for it") {
  Server s;
  auto r = s.connect().post("/api/generate", {{"model", "fake"}, {"prompt", "Hi"}, {"stream", false}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(s.backend.ensure_calls == 0);
  REQUIRE(s.backend.submitted().size() == 1);
  CHECK(s.backend.submitted()[0].reservation == 0);
}

TEST_CASE("without load on demand a model that is not loaded is 404 at once") {
  Server s;
  s.backend.stored = {"lazy"};
  auto r = s.connect().post("/v1/completions", {{"model", "lazy"}, {"prompt", "Hi"}});
  CHECK(r.status == 404);
  CHECK(s.backend.ensure_calls == 0);
}

TEST_CASE("streaming completion: SSE chunks whose text adds up, then [DONE]") {
  Server s;
  auto r = s.connect().post("/v1/completions", {{"model", "fake"},
                                                {"prompt", "Hi"},
                                                {"max_tokens", 4},
                                                {"stream", true},
                                                {"stream_options", {{"include_usage", true}}}});
  REQUIRE(r.status == 200);
  CHECK(r.headers[bhttp::field::content_type] == "text/event-stream");
  const auto events = sse_data(r.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  std::string text;
  std::string finish;
  json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    CHECK(e["object"] == "text_completion");
    if (e.contains("usage")) usage = e["usage"];
    if (e["choices"].empty()) continue;
    text += e["choices"][0]["text"].get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
  }
  CHECK(text == "Once upon a time");
  CHECK(finish == "length");
  CHECK(usage["completion_tokens"] == 4);
}

TEST_CASE("an HTTP/1.0 client gets an unchunked stream that ends with the connection") {
  Server s;
  auto c = s.connect();
  const std::string body = json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 2}, {"stream", true}}.dump();
  c.write_raw("POST /v1/completions HTTP/1.0\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string all = c.read_to_end();
  const size_t head_end = all.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  CHECK(all.find("Transfer-Encoding") == std::string::npos);
  const auto events = sse_data(all.substr(head_end + 4));
  CHECK(events.back() == "[DONE]");
}

TEST_CASE("POST /apply-template renders the model's template; a broken template fails chat, not completions") {
  Server s;
  s.backend.chat_template =
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
      "{% if add_generation_prompt %}[assistant:{% endif %}{% if tools %}{{ tools | length }} tools{% endif %}"
      "{{ flavour }}";
  const json body = {{"messages", {{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", nullptr}}}},
                     {"tools", {{{"type", "function"}}}},
                     {"chat_template_kwargs", {{"flavour", "!"}}}};
  auto r = s.connect().post("/apply-template", body);
  REQUIRE(r.status == 200);
  CHECK(r.js() == json{{"prompt", "<s>[system:S][user:][assistant:1 tools!"}});
  json no_gen = body;
  no_gen["add_generation_prompt"] = false;
  CHECK(s.connect().post("/apply-template", no_gen).js()["prompt"] == "<s>[system:S][user:]1 tools!");
  r = s.connect().post("/apply-template", json{{"messages", 3}});
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] == "'messages' must be an array of messages");

  s.backend.chat_template = "line 1\n{% for m in messages %}{{ m.content | frobnicate }}{% endfor %}";
  r = s.connect().post("/apply-template", body);
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] ==
        "the model's tokenizer.chat_template cannot be rendered: unknown filter 'frobnicate' (template line 2)");
  const json chat = {{"model", "fake"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 2}};
  r = s.connect().post("/v1/chat/completions", chat);
  CHECK(r.status >= 400);
  CHECK(r.js()["error"]["message"].get<std::string>().find("frobnicate") != std::string::npos);
  r = s.connect().post("/v1/completions", json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 2}});
  CHECK(r.status == 200);
}

TEST_CASE("chat: the model's template builds the prompt; streaming deltas start with the role") {
  Server s;
  const json body = {{"model", "fake"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 2}};
  auto r = s.connect().post("/v1/chat/completions", body);
  REQUIRE(r.status == 200);
  CHECK(r.js()["object"] == "chat.completion");
  CHECK(r.js()["choices"][0]["message"]["content"] == "Once upon");
  CHECK(s.backend.last_prompt_text() == "User: Hi\nAssistant:");

  s.backend.chat_template =
      "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  json streamed = body;
  streamed["stream"] = true;
  r = s.connect().post("/v1/chat/completions", streamed);
  REQUIRE(r.status == 200);
  CHECK(s.backend.last_prompt_text() == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  const auto events = sse_data(r.body);
  const json first = json::parse(events.front());
  CHECK(first["object"] == "chat.completion.chunk");
  CHECK(first["choices"][0]["delta"]["role"] == "assistant");
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json d = json::parse(events[i])["choices"][0]["delta"];
    if (d.contains("content")) text += d["content"].get<std::string>();
  }
  CHECK(text == "Once upon");
  CHECK(events.back() == "[DONE]");
  // Chat without max_tokens may fill the context; a completion gets OpenAI's 16.
  json unlimited = body;
  unlimited.erase("max_tokens");
  CHECK(s.connect().post("/v1/chat/completions", unlimited).status == 200);
  CHECK(s.backend.submitted().back().max_tokens == 64);
  CHECK(s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}}).status == 200);
  CHECK(s.backend.submitted().back().max_tokens == 16);
}

TEST_CASE("a prompt being tokenized holds no I/O thread: another request is served meanwhile") {
  // One I/O thread: were the prompt tokenized on it, the second request could
  // not be answered until the first prompt's tokenization ended.
  HttpServerOptions o;
  o.io_threads = 1;
  Server s(o);
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered_once{false};
  s.backend.before_tokenize = [&](std::string_view text) {
    if (text != "long prompt" || entered_once.exchange(true)) return;
    entered.set_value();
    released.wait();
  };
  auto first = std::async(std::launch::async, [&] {
    return s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "long prompt"}, {"max_tokens", 2}});
  });
  REQUIRE(entered.get_future().wait_for(10s) == std::future_status::ready);
  // The first prompt is still being tokenized; the same server answers others.
  auto models = s.connect().send(bhttp::verb::get, "/v1/models");
  CHECK(models.status == 200);
  auto other = s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 2}});
  CHECK(other.status == 200);
  CHECK(other.js()["choices"][0]["text"] == "Once upon");
  CHECK(first.wait_for(0s) == std::future_status::timeout);
  release.set_value();
  auto r = first.get();
  REQUIRE(r.status == 200);
  CHECK(r.js()["choices"][0]["text"] == "Once upon");
  CHECK(r.js()["usage"]["prompt_tokens"] == 12);  // BOS + 11 bytes
}

TEST_CASE("a client that leaves while its prompt is tokenized submits nothing; stop waits for the pool") {
  HttpServerOptions o;
  o.io_threads = 1;
  Server s(o);
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  s.backend.before_tokenize = [&](std::string_view) {
    entered.set_value();
    released.wait();
  };
  {
    Connection c = s.connect();
    c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n"
               "{\"model\":\"fake\",\"prompt\":\"Hi\",\"max_tokens\":2}");
    REQUIRE(entered.get_future().wait_for(10s) == std::future_status::ready);
  }  // the client goes away: its call is cancelled while the prompt is held
  bool cancelled = false;
  for (int i = 0; i < 500 && !cancelled; ++i) {
    auto m = s.connect().send(bhttp::verb::get, "/metrics");
    cancelled = m.body.find("endpoint=\"completions\",outcome=\"cancelled\"} 1") != std::string::npos;
    if (!cancelled) std::this_thread::sleep_for(10ms);
  }
  CHECK(cancelled);
  release.set_value();
  std::this_thread::sleep_for(100ms);
  CHECK(s.backend.submitted().empty());
  s.server->stop();
}

TEST_CASE("stop strings end the text before them") {
  Server s;
  auto r = s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"stop", {" a"}}});
  REQUIRE(r.status == 200);
  CHECK(r.js()["choices"][0]["text"] == "Once upon");
  CHECK(r.js()["choices"][0]["finish_reason"] == "stop");
}

TEST_CASE("bad requests get OpenAI errors naming the problem, and the server keeps serving") {
  Server s;
  auto c = s.connect();
  auto r = c.send(bhttp::verb::post, "/v1/completions", "{\"prompt\": \"Hi\",");
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["type"] == "invalid_request_error");
  CHECK(r.js()["error"]["message"].get<std::string>().starts_with("the request body is not valid JSON"));

  r = c.post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", "ten"}});
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] == "'max_tokens' must be an integer");

  r = c.post("/v1/chat/completions", {{"model", "fake"}, {"messages", "hello"}});
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] == "'messages' must be a non-empty array of messages");

  r = c.post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"n", 3}});
  CHECK(r.status == 400);

  r = c.post("/v1/completions", {{"model", "gpt-4"}, {"prompt", "Hi"}});
  CHECK(r.status == 404);
  CHECK(r.js()["error"]["code"] == "model_not_found");
  CHECK(r.js()["error"]["message"].get<std::string>().starts_with("model 'gpt-4' not found"));

  r = c.send(bhttp::verb::get, "/v1/nothing");
  CHECK(r.status == 404);
  r = c.send(bhttp::verb::get, "/v1/completions");
  CHECK(r.status == 405);
  CHECK(r.headers[bhttp::field::allow] == "POST");
  // All of that on one keep-alive connection, which still works.
  r = c.post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 1}});
  CHECK(r.status == 200);
  CHECK(r.js()["choices"][0]["text"] == "Once");
}

TEST_CASE("a body over the limit gets 413, before or after it is sent") {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  Server s(o);
  auto r = s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", std::string(5000, 'x')}});
  CHECK(r.status == 413);
  CHECK(r.js()["error"]["code"] == "request_too_large");

  // curl's way: Expect: 100-continue, and the server answers before the body.
  auto c = s.connect();
  c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
  r = c.read_reply();
  CHECK(r.status == 413);
  s.check_still_serving();
}

TEST_CASE("Expect: 100-continue within the limit gets 100 Continue, then the answer") {
  Server s;
  auto c = s.connect();
  const std::string body = json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 1}}.dump();
  c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
  REQUIRE(c.read_until("HTTP/1.1 100 Continue\r\n\r\n"));
  c.write_raw(body);
  REQUIRE(c.read_until("\"text\":\"Once\""));
}

TEST_CASE("malformed HTTP gets 400, oversized headers 431") {
  HttpServerOptions o;
  o.max_header_bytes = 1024;
  Server s(o);
  auto c = s.connect();
  c.write_raw("NOT-HTTP\r\n\r\n");
  CHECK(c.read_reply().status == 400);
  auto big = s.connect();
  big.write_raw("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  CHECK(big.read_reply().status == 431);
  s.check_still_serving();
}

TEST_CASE("a client that disconnects mid-stream has its generation cancelled; others are served") {
  Server s;
  s.backend.token_delay = 50ms;
  s.backend.script = std::vector<std::string>(200, " word");
  {
    auto c = s.connect();
    c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ");
    const std::string body = json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 200}, {"stream", true}}.dump();
    c.write_raw(std::to_string(body.size()) + "\r\n\r\n" + body);
    REQUIRE(c.read_until("word"));
    c.close();
  }
  CHECK(s.backend.wait_cancelled(1, 5s));
  {
    // The same for a non-streaming request: the client leaves before any byte came.
    auto c = s.connect();
    const std::string body = json{{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 200}}.dump();
    c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body);
    std::this_thread::sleep_for(100ms);
    c.close();
  }
  CHECK(s.backend.wait_cancelled(2, 5s));
  s.backend.token_delay = 0ms;
  s.backend.script = {"Once", " upon"};
  s.check_still_serving();
  CHECK(s.backend.wait_idle(5s));
}

TEST_CASE("idle and slow clients are timed out") {
  HttpServerOptions o;
  o.idle_timeout = 200ms;
  o.header_timeout = 200ms;
  Server s(o);
  auto idle = s.connect();
  CHECK(idle.closed_by_server(3s));
  auto slow = s.connect();
  slow.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\n");
  CHECK(slow.closed_by_server(3s));
  s.check_still_serving();
}

TEST_CASE("connections over the limit get 503; a freed slot is usable again") {
  HttpServerOptions o;
  o.max_connections = 2;
  Server s(o);
  auto a = s.connect();
  auto b = s.connect();
  CHECK(a.send(bhttp::verb::get, "/health/live").status == 200);
  CHECK(b.send(bhttp::verb::get, "/health/live").status == 200);
  auto c = s.connect();
  const Reply r = c.read_reply();
  CHECK(r.status == 503);
  CHECK(r.js()["error"]["code"] == "too_many_connections");
  a.close();
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    std::this_thread::sleep_for(20ms);
    auto d = s.connect();
    served = d.send(bhttp::verb::get, "/health/live").status == 200;
  }
  CHECK(served);
}

TEST_CASE("API keys: 401 without a valid key, 403 for a user key on admin endpoints") {
  HttpServerOptions o;
  auto keys = ApiKeys::parse("user-key\nadmin:admin-key\n", "test");
  REQUIRE(keys.ok());
  o.api_keys = std::move(*keys);
  Server s(o);
  auto c = s.connect();
  const json body = {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 1}};
  Reply r = c.post("/v1/completions", body);
  CHECK(r.status == 401);
  CHECK(r.js()["error"]["type"] == "authentication_error");
  CHECK(r.headers["WWW-Authenticate"] == "Bearer");
  CHECK(c.post("/v1/completions", body, "Bearer wrong").status == 401);
  CHECK(c.post("/v1/completions", body, "Bearer user-key").status == 200);
  CHECK(c.post("/v1/completions", body, "Bearer admin-key").status == 200);
  CHECK(c.send(bhttp::verb::get, "/v1/models").status == 401);
  r = c.send(bhttp::verb::get, "/admin/models", "", "Bearer user-key");
  CHECK(r.status == 403);
  CHECK(r.js()["error"]["type"] == "permission_error");
  CHECK(c.send(bhttp::verb::get, "/admin/models", "", "Bearer admin-key").status == 200);
  // Health and metrics are open.
  CHECK(c.send(bhttp::verb::get, "/health/live").status == 200);
  CHECK(c.send(bhttp::verb::get, "/metrics").status == 200);
}

TEST_CASE("models, admin load and unload") {
  Server s;
  auto c = s.connect();
  Reply r = c.send(bhttp::verb::get, "/v1/models");
  REQUIRE(r.status == 200);
  CHECK(r.js()["object"] == "list");
  CHECK(r.js()["data"].size() == 1);
  CHECK(r.js()["data"][0]["id"] == "fake");
  CHECK(c.send(bhttp::verb::get, "/v1/models/fake").js()["id"] == "fake");
  CHECK(c.send(bhttp::verb::get, "/v1/models/other").status == 404);

  r = c.post("/admin/models", {{"path", "/models/x.gguf"}, {"threads", -1}});
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] == "'threads' must be an integer between 0 and 1024 (0 = automatic)");
  r = c.post("/admin/models", {{"path", "/models/x.gguf"}, {"device", "tpu"}});
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] == "'device' must be \"cpu\", \"cuda\" or \"auto\"");
  r = c.post("/admin/models", {{"path", "/models/stories260K.gguf"}, {"ctx", 128}, {"threads", 2}, {"device", "cpu"}});
  REQUIRE(r.status == 200);
  CHECK(r.js()["name"] == "stories260K");
  CHECK(r.js()["state"] == "ready");
  CHECK(r.js()["context_length"] == 128);
  r = c.send(bhttp::verb::get, "/admin/models");
  REQUIRE(r.status == 200);
  CHECK(r.js()["models"].size() == 2);
  CHECK(r.js()["models"][0]["memory_bytes"] == 1000);
  CHECK(c.post("/admin/models", {{"name", "x"}}).status == 400);
  CHECK(c.post("/admin/models", {{"path", "/m.gguf"}, {"name", "bad/name"}}).status == 400);
  CHECK(c.send(bhttp::verb::delete_, "/admin/models/stories260K").status == 200);
  CHECK(c.send(bhttp::verb::delete_, "/admin/models/stories260K").status == 404);
  CHECK(c.send(bhttp::verb::get, "/v1/models").js()["data"].size() == 1);
}

TEST_CASE("health: live always, ready only with a ready model and a backend that answers") {
  Server s;
  auto c = s.connect();
  CHECK(c.send(bhttp::verb::get, "/health/live").status == 200);
  Reply r = c.send(bhttp::verb::get, "/health/ready");
  CHECK(r.status == 200);
  CHECK(r.js()["models"] == json::array({"fake"}));

  ModelInfo loading;
  loading.name = "fake";
  loading.state = ModelState::kLoading;
  s.backend.set_models({loading});
  r = c.send(bhttp::verb::get, "/health/ready");
  CHECK(r.status == 503);
  CHECK(r.js()["error"]["code"] == "model_not_ready");
  r = c.post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}});
  CHECK(r.status == 503);
  r = c.post("/v1/completions", {{"prompt", "Hi"}});
  CHECK(r.status == 503);

  s.backend.down = true;
  CHECK(c.send(bhttp::verb::get, "/health/ready").status == 503);
  CHECK(c.send(bhttp::verb::get, "/health/live").status == 200);
}

TEST_CASE("an overloaded backend gives 429") {
  Server s;
  s.backend.overloaded_now = true;
  auto r = s.connect().post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}});
  CHECK(r.status == 429);
  CHECK(r.js()["error"]["type"] == "overloaded_error");
}

TEST_CASE("metrics move with traffic") {
  Server s;
  auto c = s.connect();
  auto count = [&](const std::string& series) {
    const std::string text = c.send(bhttp::verb::get, "/metrics").body;
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1.0;
    return std::stod(text.substr(at + series.size() + 2));
  };
  const Reply m = c.send(bhttp::verb::get, "/metrics");
  CHECK(m.headers[bhttp::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(count("llmos_http_requests_total{endpoint=\"completions\",outcome=\"ok\"}") == 0);
  CHECK(c.post("/v1/completions", {{"model", "fake"}, {"prompt", "Hi"}, {"max_tokens", 3}}).status == 200);
  CHECK(c.post("/v1/completions", {{"model", "fake"}, {"prompt", 5}}).status == 400);
  CHECK(count("llmos_http_requests_total{endpoint=\"completions\",outcome=\"ok\"}") == 1);
  CHECK(count("llmos_http_requests_total{endpoint=\"completions\",outcome=\"bad_request\"}") == 1);
  CHECK(count("llmos_generated_tokens_total") == 3);
  CHECK(count("llmos_prompt_tokens_total") == 3);
  CHECK(count("llmos_time_to_first_token_seconds_count") == 1);
  CHECK(count("llmos_time_per_output_token_seconds_count") == 2);
  CHECK(count("llmos_kv_blocks_free{model=\"fake\"}") == 7);
  CHECK(count("llmos_service_restarts") == 2);
}

TEST_CASE("the listening address is reported, and a port in use is a clear error") {
  Server s;
  CHECK(s.server->address() == "127.0.0.1");
  CHECK(s.port() != 0);
  testing::FakeBackend other;
  HttpServerOptions o;
  o.port = s.port();
  auto clash = HttpServer::start(other, o);
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.status().message().starts_with("listen on 127.0.0.1:" + std::to_string(s.port())));
  o.address = "not-an-ip";
  CHECK(HttpServer::start(other, o).status().code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmos::http
