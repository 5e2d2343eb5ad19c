#include "ollama_request.hpp"

#include <doctest/doctest.h>

#include <string>

#include "ollama_response.hpp"

namespace llmos::http {
namespace {

std::string error_of(std::string_view body, ApiKind kind = ApiKind::kCompletion) {
  auto r = parse_ollama_request(body, kind);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("an Ollama generate request streams by default and wraps the prompt in the chat template") {
  auto r = parse_ollama_request(R"({"model":"m","prompt":"Hi","system":"Be brief"})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->ollama);
  CHECK_FALSE(r->ollama_chat);
  CHECK(r->stream);
  CHECK(r->kind == ApiKind::kChat);
  REQUIRE(r->messages.size() == 2);
  CHECK(r->messages[0].role == "system");
  CHECK(r->messages[0].content == "Be brief");
  CHECK(r->messages[1].role == "user");
  CHECK(r->messages[1].content == "Hi");
  CHECK_FALSE(r->max_tokens.has_value());
  CHECK(r->sampling == SamplingParams{});
}

TEST_CASE("a raw Ollama generate request is the prompt as is") {
  auto r = parse_ollama_request(R"({"model":"m","prompt":"Once","raw":true,"stream":false})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->kind == ApiKind::kCompletion);
  CHECK(r->prompt == "Once");
  CHECK_FALSE(r->stream);
  CHECK(error_of(R"({"model":"m","prompt":"x","raw":true,"system":"s"})").find("'system'") != std::string::npos);
}

TEST_CASE("Ollama options map onto the sampling parameters") {
  auto r = parse_ollama_request(
      R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"options":{"temperature":0,"top_k":5,
          "top_p":0.5,"min_p":0.1,"seed":42,"num_predict":7,"stop":["\n","END"],"repeat_penalty":1.1,
          "repeat_last_n":32,"num_ctx":256}})",
      ApiKind::kChat);
  REQUIRE(r.ok());
  CHECK(r->ollama_chat);
  CHECK(r->sampling.temperature == 0.0f);
  CHECK(r->sampling.top_k == 5);
  CHECK(r->sampling.top_p == doctest::Approx(0.5));
  CHECK(r->sampling.min_p == doctest::Approx(0.1));
  CHECK(r->sampling.seed == 42);
  CHECK(r->seed_given);
  CHECK(r->max_tokens == 7);
  CHECK(r->stop == std::vector<std::string>{"\n", "END"});
  CHECK(r->sampling.repeat_penalty == doctest::Approx(1.1));
  CHECK(r->sampling.repeat_last_n == 32);
  CHECK(r->num_ctx == 256);
  // num_predict -1 is Ollama's "no limit": up to the context.
  auto unlimited = parse_ollama_request(R"({"model":"m","prompt":"x","options":{"num_predict":-1}})", ApiKind::kCompletion);
  REQUIRE(unlimited.ok());
  CHECK_FALSE(unlimited->max_tokens.has_value());
}

TEST_CASE("fields and options llmos does not honour are refused, naming them") {
  CHECK(error_of(R"({"model":"m","prompt":"x","format":"json"})").find("'format'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","images":["aGk="]})").find("'images'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":{"mirostat":1}})").find("'options.mirostat'") !=
        std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":{"repeat_last_n":-1}})").find("'options.repeat_last_n'") !=
        std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":{"num_predict":0}})").find("'options.num_predict'") !=
        std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":{"top_p":2}})").find("top_p") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":{"temperature":1e300}})").find("'options.temperature'") !=
        std::string::npos);
  CHECK(error_of(R"({"model":"m","messages":[{"role":"user","content":"x","images":["aGk="]}]})", ApiKind::kChat)
            .find("'messages[0].images'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", ApiKind::kChat)
            .find("'messages[0].role'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x"})", ApiKind::kChat).find("'prompt'") != std::string::npos);
}

TEST_CASE("corrupt or incomplete Ollama requests are refused, naming what is wrong") {
  CHECK(error_of("{\"model\":").find("not valid JSON") != std::string::npos);
  CHECK(error_of("[1]").find("JSON object") != std::string::npos);
  CHECK(error_of(R"({"prompt":"x"})").find("'model'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","keep_alive":true})").find("'keep_alive'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","stream":"yes"})").find("'stream'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":[]})").find("'options'") != std::string::npos);
  CHECK(error_of(R"({"model":"m","prompt":"x","options":{"stop":"a"}})").find("'options.stop'") != std::string::npos);
}

TEST_CASE("Ollama's keep_alive is passed on as text, and a request without a prompt only loads or unloads") {
  auto r = parse_ollama_request(R"({"model":"m","prompt":"x","keep_alive":"10m"})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->keep_alive == "10m");
  CHECK_FALSE(r->load_only);
  r = parse_ollama_request(R"({"model":"m","prompt":"x","keep_alive":-1})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->keep_alive == "-1");
  r = parse_ollama_request(R"({"model":"m","keep_alive":0})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->load_only);
  CHECK(keep_alive_is_zero(r->keep_alive));
  r = parse_ollama_request(R"({"model":"m","messages":[]})", ApiKind::kChat);
  REQUIRE(r.ok());
  CHECK(r->load_only);
  r = parse_ollama_request(R"({"model":"m","prompt":""})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->load_only);
  CHECK(r->keep_alive.empty());
  for (const char* zero : {"0", "0s", "0m", "0.0", "+0h"}) CHECK(keep_alive_is_zero(zero));
  for (const char* other : {"", "5m", "-1", "10", "0.5s", "abc"}) CHECK_FALSE(keep_alive_is_zero(other));
}

TEST_CASE("Ollama chunks and the final object carry Ollama's fields") {
  auto g = ollama_chunk("m", false, "Hel");
  CHECK(g["model"] == "m");
  CHECK(g["response"] == "Hel");
  CHECK(g["done"] == false);
  CHECK(g["created_at"].get<std::string>().back() == 'Z');
  auto c = ollama_chunk("m", true, "lo");
  CHECK(c["message"]["role"] == "assistant");
  CHECK(c["message"]["content"] == "lo");
  CHECK_FALSE(c.contains("response"));
  auto f = ollama_final("m", false, "", FinishReason::kLength, Usage{5, 3}, OllamaTimings{100, 0, 40, 50});
  CHECK(f["done"] == true);
  CHECK(f["done_reason"] == "length");
  CHECK(f["total_duration"] == 100);
  CHECK(f["load_duration"] == 0);
  CHECK(f["prompt_eval_count"] == 5);
  CHECK(f["prompt_eval_duration"] == 40);
  CHECK(f["eval_count"] == 3);
  CHECK(f["eval_duration"] == 50);
  CHECK(ollama_final("m", true, "x", FinishReason::kStop, Usage{}, {})["done_reason"] == "stop");
}

}  // namespace
}  // namespace llmos::http
