// End-to-end tests of the HTTP API as llmos-io serves it in a running system:
// text through HTTP equals `llmos generate` (and llama.cpp's golden text) with
// concurrent clients; a model service killed mid-stream changes no byte; a
// client that disconnects has its generation cancelled; a full queue is 429;
// llmos-io killed comes back on the same port; admin load/unload go through
// the kernel.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "system_harness.hpp"
#include "test_client.hpp"

namespace llmos::testing {
namespace {

using namespace std::chrono_literals;
using http::testing::Connection;
using http::testing::sse_data;
using nlohmann::json;

json completion(const std::string& prompt, int max_tokens, bool stream = false) {
  return {{"model", "stories"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"stream", stream}};
}

std::string generate_text(System& sys, const std::string& prompt, int n) {
  auto r = sys.llmos({"generate", "stories", prompt, "--temperature", "0", "-n", std::to_string(n), "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out)["text"];
}

// The text of a streamed completion's SSE body.
std::string sse_text(const std::string& body) {
  std::string text;
  for (const auto& d : sse_data(body)) {
    if (d == "[DONE]") break;
    auto j = json::parse(d);
    REQUIRE_MESSAGE(!j.contains("error"), d);
    text += j["choices"][0]["text"].get<std::string>();
  }
  return text;
}

// Waits until GET /health/ready answers 200 on `port`.
bool wait_ready(uint16_t port, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      Connection c(port);
      if (c.send(boost::beast::http::verb::get, "/health/ready").status == 200) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

json stats(System& sys) {
  auto r = sys.llmos({"stats", "--json"});
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

TEST_CASE("HTTP through the services: concurrent clients get the text of llmos generate and llama.cpp") {
  System sys({"--http", "127.0.0.1:0"});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  CHECK(sys.up_result().out.find("HTTP API: http://127.0.0.1:") != std::string::npos);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  {  // no model yet: not ready
    Connection c(port);
    CHECK(c.send(boost::beast::http::verb::get, "/health/live").status == 200);
    CHECK(c.send(boost::beast::http::verb::get, "/health/ready").status == 503);
  }
  auto load = sys.llmos({"load", stories_model(), "--name", "stories"});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  REQUIRE(wait_ready(port, 5s));

  const auto golden = golden_generate();
  std::vector<std::string> prompts, want;
  for (const auto& c : golden["cases"]) {
    prompts.push_back(c["prompt"]);
    want.push_back(generate_text(sys, prompts.back(), 64));
    if (golden_strict_prefix(c) == c["generated_ids"].size()) CHECK(want.back() == c["text"].get<std::string>());
  }
  // Every prompt at once, half of them streamed.
  std::vector<std::future<std::string>> got;
  for (size_t i = 0; i < prompts.size(); ++i) {
    got.push_back(std::async(std::launch::async, [&, i] {
      Connection c(port);
      const bool stream = i % 2 == 1;
      auto r = c.post("/v1/completions", completion(prompts[i], 64, stream));
      if (r.status != 200) return "status " + std::to_string(r.status) + ": " + r.body;
      return stream ? sse_text(r.body) : r.js()["choices"][0]["text"].get<std::string>();
    }));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    CAPTURE(prompts[i]);
    CHECK(got[i].get() == want[i]);
  }

  Connection c(port);
  // A prompt longer than the context: the kernel refuses it, and a streamed
  // request still gets the 400 status line, not an error inside a 200 stream.
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "Once upon a time ";
  for (bool stream : {false, true}) {
    auto r = c.post("/v1/completions", completion(long_prompt, 4, stream));
    CHECK(r.status == 400);
    CHECK_MESSAGE(r.js()["error"]["message"].get<std::string>().find("does not fit the context of 512 tokens") !=
                      std::string::npos,
                  r.body);
  }
  auto metrics = c.send(boost::beast::http::verb::get, "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("llmos_http_requests_total{endpoint=\"completions\",outcome=\"ok\"} 5") != std::string::npos);
  CHECK(metrics.body.find("llmos_kv_blocks_free{model=\"stories\"}") != std::string::npos);

  // A chat client sends the whole conversation again: the second turn reuses
  // the KV of the first (its long first message at least), and /metrics says so.
  const std::string first_turn = long_prompt.substr(0, 200);
  auto chat = [&](const json& messages) {
    auto r = c.post("/v1/chat/completions",
                    {{"model", "stories"}, {"messages", messages}, {"max_tokens", 24}, {"temperature", 0}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.js()["choices"][0]["message"]["content"].get<std::string>();
  };
  json messages = json::array({{{"role", "user"}, {"content", first_turn}}});
  const std::string answer = chat(messages);
  messages.push_back({{"role", "assistant"}, {"content", answer}});
  messages.push_back({{"role", "user"}, {"content", "And then?"}});
  chat(messages);
  double hits = 0, tokens = 0;
  for (int i = 0; i < 60 && hits == 0; ++i) {  // heartbeats and the snapshot bring the counters
    std::this_thread::sleep_for(50ms);
    const std::string body = c.send(boost::beast::http::verb::get, "/metrics").body;
    auto value = [&](const std::string& name) {
      const size_t at = body.find("\n" + name + " ");
      return at == std::string::npos ? 0.0 : std::stod(body.substr(at + name.size() + 2));
    };
    hits = value("llmos_prefix_cache_hits_total");
    tokens = value("llmos_prefix_cache_tokens_total");
  }
  CHECK(hits >= 1);
  CHECK(tokens >= 32);
}

TEST_CASE("HTTP: kill -9 of the model service mid-stream; the client receives the undisturbed text") {
  // 2 ms per engine step: the 400 tokens take about a second, so the kill
  // lands mid-stream.
  System sys({"--http", "127.0.0.1:0"}, {"LLMOS_TEST_STEP_DELAY_MS=2"});
  REQUIRE(sys.up_result().exit_code == 0);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "stories"}).exit_code == 0);
  const uint16_t port = sys.http_port();
  REQUIRE(wait_ready(port, 5s));
  const std::string prompt = "Once upon a time";
  const std::string want = generate_text(sys, prompt, 400);

  const pid_t model = sys.service_pid("model:stories");
  REQUIRE(model > 0);
  Connection c(port);
  c.write_raw([&] {
    const std::string body = completion(prompt, 400, true).dump();
    return "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }());
  REQUIRE(c.read_until("\"text\":\""));  // tokens are flowing
  ::kill(model, SIGKILL);
  const std::string raw = c.read_to_end();
  REQUIRE_MESSAGE(!c.timed_out(), "the stream went silent after the kill; received:\n" << raw);
  const size_t body_at = raw.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  // Chunked transfer: take the data lines.
  std::string text;
  size_t at = 0;
  while ((at = raw.find("data: {", at)) != std::string::npos) {
    const size_t end = raw.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    auto j = json::parse(raw.substr(at + 6, end - at - 6));
    REQUIRE_MESSAGE(!j.contains("error"), j.dump());
    text += j["choices"][0]["text"].get<std::string>();
    at = end;
  }
  CHECK(raw.find("data: [DONE]") != std::string::npos);
  CHECK(text == want);
  CHECK(sys.service_pid("model:stories") != model);
}

TEST_CASE("HTTP: a client that disconnects mid-stream has its generation cancelled; others are served") {
  System sys({"--http", "127.0.0.1:0"}, {"LLMOS_TEST_STEP_DELAY_MS=2"});  // 450 tokens take about a second
  REQUIRE(sys.up_result().exit_code == 0);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "stories"}).exit_code == 0);
  const uint16_t port = sys.http_port();
  REQUIRE(wait_ready(port, 5s));
  const auto before = stats(sys);
  {
    // Gone once the first tokens arrive: the server sees the close while the
    // 450 tokens are still being generated. (A client gone before its prompt
    // is built submits nothing at all; http_server_test covers that.)
    Connection c(port);
    const std::string body = completion("Once upon a time", 450, true).dump();
    c.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
    REQUIRE(c.read_until("\"text\":\""));  // the generation is under way
    c.close();
  }
  bool cancelled = false;
  for (int i = 0; i < 100 && !cancelled; ++i) {
    auto s = stats(sys);
    cancelled = s["requests_cancelled"].get<uint64_t>() > before["requests_cancelled"].get<uint64_t>() &&
                s["running"].get<uint64_t>() == 0;
    if (!cancelled) std::this_thread::sleep_for(50ms);
  }
  CHECK_MESSAGE(cancelled, "before: " << before.dump() << "\nafter: " << stats(sys).dump());
  CHECK(stats(sys)["generated_tokens"].get<uint64_t>() < 450);
  Connection c(port);
  auto r = c.post("/v1/completions", completion("Once upon a time", 8));
  CHECK(r.status == 200);
  CHECK(r.js()["usage"]["completion_tokens"] == 8);
}

TEST_CASE("HTTP: llmos-io killed comes back on the same port; admin load and unload go through the kernel") {
  System sys({"--http", "127.0.0.1:0"});
  REQUIRE(sys.up_result().exit_code == 0);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  {
    Connection c(port);
    auto r = c.post("/admin/models", json{{"path", stories_model()}, {"name", "stories"}, {"threads", 1}, {"device", "cpu"}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.js()["state"] == "ready");
    CHECK(r.js()["context_length"] == 512);
    auto bad = c.post("/admin/models", json{{"path", "/no/such/model.gguf"}});
    CHECK(bad.status == 404);
    CHECK(bad.js()["error"]["message"].get<std::string>().find("/no/such/model.gguf") != std::string::npos);
    auto with_template = c.post("/admin/models", json{{"path", stories_model()}, {"name", "t"}, {"chat_template_file", "x"}});
    CHECK(with_template.status == 400);  // the io service reads it: an absolute path
    CHECK(with_template.js()["error"]["message"].get<std::string>().find("'x'") != std::string::npos);
    // POST /apply-template in the system: stories260K has no chat template, so
    // the plain prompt; a bad body is 400 naming the field.
    auto applied = c.post("/apply-template", json{{"messages", {{{"role", "system"}, {"content", "S"}},
                                                                {{"role", "user"}, {"content", "U"}}}}});
    REQUIRE_MESSAGE(applied.status == 200, applied.body);
    CHECK(applied.js() == json{{"prompt", "S\n\nUser: U\nAssistant:"}});
    auto bad_apply = c.post("/apply-template", json{{"messages", "x"}});
    CHECK(bad_apply.status == 400);
    CHECK(bad_apply.js()["error"]["message"] == "'messages' must be an array of messages");
  }
  auto ps = sys.ps();
  REQUIRE(ps["models"].size() == 1);
  CHECK(ps["models"][0]["name"] == "stories");
  CHECK(ps["models"][0]["threads"] == 1);
  CHECK(ps["models"][0]["device"] == "cpu");

  const pid_t io = sys.service_pid("io");
  REQUIRE(io > 0);
  ::kill(io, SIGKILL);
  CHECK(wait_gone({io}, 5s).empty());
  REQUIRE(wait_ready(port, 10s));
  CHECK(sys.http_port() == port);
  Connection c(port);
  auto r = c.post("/v1/completions", completion("Once upon a time", 16));
  REQUIRE(r.status == 200);
  CHECK(r.js()["choices"][0]["text"] == generate_text(sys, "Once upon a time", 16));
  auto gone = c.send(boost::beast::http::verb::delete_, "/admin/models/stories");
  CHECK_MESSAGE(gone.status == 200, gone.body);
  CHECK(sys.ps()["models"].empty());
  auto after = c.post("/v1/completions", completion("Once upon a time", 4));
  CHECK(after.status == 404);
}


TEST_CASE("HTTP: a full queue gets 429, and the admitted requests still finish") {
  // One sequence runs and one waits per model; the model service is stopped
  // (SIGSTOP) while the requests arrive, so the third finds the queue full.
  System sys({"--http", "127.0.0.1:0", "--max-seqs", "1", "--max-queued", "1"});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "stories"}).exit_code == 0);
  const uint16_t port = sys.http_port();
  REQUIRE(wait_ready(port, 5s));
  const pid_t model = sys.service_pid("model:stories");
  REQUIRE(model > 0);
  ::kill(model, SIGSTOP);
  auto first = std::async(std::launch::async, [&] { return Connection(port).post("/v1/completions", completion("Once", 8)); });
  auto second = std::async(std::launch::async, [&] { return Connection(port).post("/v1/completions", completion("Once upon", 8)); });
  struct Resume {  // on every path, before the futures wait: a failed REQUIRE leaves no stopped service
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{model};
  bool full = false;  // one running (dispatched to the stopped service), one queued
  for (int i = 0; i < 200 && !full; ++i) {
    auto s = stats(sys);
    full = s["running"].get<uint64_t>() == 1 && s["queued"].get<uint64_t>() == 1;
    if (!full) std::this_thread::sleep_for(25ms);
  }
  REQUIRE(full);
  Connection c(port);
  auto third = c.post("/v1/completions", completion("Once upon a", 8));
  auto streamed = c.post("/v1/completions", completion("Once upon a", 8, /*stream=*/true));
  ::kill(model, SIGCONT);
  CHECK(third.status == 429);
  CHECK(third.js()["error"]["type"] == "overloaded_error");
  CHECK_MESSAGE(streamed.status == 429, streamed.body);  // the stream had not begun: a status, not an event
  CHECK(first.get().status == 200);
  CHECK(second.get().status == 200);
}

}  // namespace
}  // namespace llmos::testing
