#include "completion_request.hpp"

#include <doctest/doctest.h>

#include <string>

namespace llmos::http {
namespace {

std::string error_of(std::string_view body, ApiKind kind = ApiKind::kCompletion) {
  auto r = parse_completion_request(body, kind);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("a minimal completion request gets llama.cpp's sampling defaults") {
  auto r = parse_completion_request(R"({"model":"m","prompt":"Once upon a time"})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->model == "m");
  CHECK(r->prompt == "Once upon a time");
  CHECK_FALSE(r->prompt_is_ids);
  CHECK_FALSE(r->max_tokens.has_value());
  CHECK(r->sampling.temperature == doctest::Approx(0.8));
  CHECK(r->sampling.top_p == doctest::Approx(0.95));
  CHECK(r->sampling.top_k == 40);
  CHECK(r->sampling.min_p == doctest::Approx(0.05));
  CHECK_FALSE(r->seed_given);
  CHECK_FALSE(r->stream);
  CHECK(r->stop.empty());
}

TEST_CASE("every supported field is read") {
  auto r = parse_completion_request(
      R"({"model":"m","prompt":["hi"],"max_tokens":7,"temperature":0,"top_p":0.5,"top_k":3,"min_p":0.1,)"
      R"("seed":42,"stop":["\n","The"],"n":1,"stream":true,"stream_options":{"include_usage":true},)"
      R"("priority":"batch","presence_penalty":0,"frequency_penalty":0,"logprobs":null,"user":"x"})",
      ApiKind::kCompletion);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->prompt == "hi");
  CHECK(r->max_tokens == 7);
  CHECK(r->sampling.temperature == 0);
  CHECK(r->sampling.top_p == doctest::Approx(0.5));
  CHECK(r->sampling.top_k == 3);
  CHECK(r->sampling.min_p == doctest::Approx(0.1));
  CHECK(r->sampling.seed == 42);
  CHECK(r->seed_given);
  CHECK(r->stop == std::vector<std::string>{"\n", "The"});
  CHECK(r->stream);
  CHECK(r->include_usage);
  CHECK(r->priority == Priority::kBatch);
}

TEST_CASE("prompts as token ids, stop as one string, nulls as absent") {
  auto r = parse_completion_request(R"({"prompt":[1,403,407],"stop":"\n\n","temperature":null,"model":null})",
                                    ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r->prompt_is_ids);
  CHECK(r->prompt_ids == std::vector<int32_t>{1, 403, 407});
  CHECK(r->stop == std::vector<std::string>{"\n\n"});
  CHECK(r->model.empty());
  auto nested = parse_completion_request(R"({"prompt":[[5,6]]})", ApiKind::kCompletion);
  REQUIRE(nested.ok());
  CHECK(nested->prompt_ids == std::vector<int32_t>{5, 6});
}

TEST_CASE("malformed JSON is refused with the parser's reason") {
  CHECK(error_of(R"({"prompt": "x",)").starts_with("the request body is not valid JSON: "));
  CHECK(error_of("").starts_with("the request body is not valid JSON"));
  CHECK(error_of(R"(["prompt"])") == "the request body must be a JSON object");
  CHECK(error_of("{\"prompt\": \"\xff\"}").starts_with("the request body is not valid JSON"));
}

TEST_CASE("deeply nested JSON is an error, not a crash") {
  const std::string deep = "{\"prompt\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(error_of(deep).starts_with("'prompt"));
}

TEST_CASE("wrong types name the field") {
  CHECK(error_of(R"({"prompt":"x","max_tokens":"10"})") == "'max_tokens' must be an integer");
  CHECK(error_of(R"({"prompt":"x","max_tokens":1.5})") == "'max_tokens' must be an integer");
  CHECK(error_of(R"({"prompt":"x","temperature":"hot"})") == "'temperature' must be a number between 0 and 2");
  CHECK(error_of(R"({"prompt":"x","stream":"yes"})") == "'stream' must be a boolean");
  CHECK(error_of(R"({"prompt":"x","model":7})") == "'model' must be a string");
  CHECK(error_of(R"({"prompt":"x","stop":5})") == "'stop' must be a string or an array of strings");
  CHECK(error_of(R"({"prompt":"x","stop":["a",1]})") == "'stop[1]' must be a string");
  CHECK(error_of(R"({"prompt":"x","seed":"1"})") == "'seed' must be an integer");
  CHECK(error_of(R"({"prompt":7})").starts_with("'prompt' must be a string"));
  CHECK(error_of(R"({"prompt":[1,-2]})") == "'prompt[1]' must be a token id (an integer >= 0)");
  CHECK(error_of(R"({"prompt":"x","stream_options":true})") == "'stream_options' must be an object");
}

TEST_CASE("bad values name the field") {
  CHECK(error_of(R"({"prompt":"x","temperature":2.5})") == "'temperature' must be a number between 0 and 2");
  CHECK(error_of(R"({"prompt":"x","top_p":0})") == "'top_p' must be a number greater than 0 and at most 1");
  CHECK(error_of(R"({"prompt":"x","max_tokens":0})") == "'max_tokens' must be between 1 and 1048576");
  CHECK(error_of(R"({"prompt":"x","n":2})") == "'n' must be 1: llmos generates one choice per request");
  CHECK(error_of(R"({"prompt":"x","frequency_penalty":0.5})") ==
        "'frequency_penalty' is not supported (only 0); use 'repeat_penalty'");
  CHECK(error_of(R"({"prompt":"x","presence_penalty":-1})") ==
        "'presence_penalty' is not supported (only 0); use 'repeat_penalty'");
  CHECK(error_of(R"({"prompt":"x","top_k":-1})").starts_with("'top_k' must be between 0"));
  CHECK(error_of(R"({"prompt":"x","priority":"urgent"})") == "'priority' must be \"interactive\" or \"batch\"");
  CHECK(error_of(R"({"prompt":["a","b"]})") == "'prompt' holds several prompts; llmos answers one prompt per request");
  CHECK(error_of(R"({"prompt":"x","echo":true})") == "'echo' is not supported");
  CHECK(error_of(R"({"prompt":"x","logprobs":3})") == "'logprobs' is not supported");
  CHECK(error_of(R"({"max_tokens":3})") == "'prompt' is required");
  CHECK(error_of(R"({"prompt":"x","stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"]})") ==
        "'stop' may hold at most 16 strings");
}

TEST_CASE("chat messages: roles, text parts, errors naming the message") {
  auto r = parse_completion_request(
      R"({"model":"m","messages":[{"role":"developer","content":"Be brief."},)"
      R"({"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},)"
      R"({"role":"assistant","content":null}]})",
      ApiKind::kChat);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  REQUIRE(r->messages.size() == 3);
  CHECK(r->messages[0].role == "system");
  CHECK(r->messages[1].content == "Hi there");
  CHECK(r->messages[2].content.empty());

  CHECK(error_of(R"({"messages":[]})", ApiKind::kChat) == "'messages' must be a non-empty array of messages");
  CHECK(error_of(R"({"prompt":"x"})", ApiKind::kChat) == "'messages' is required");
  CHECK(error_of(R"({"messages":[{"role":"user","content":"a"},{"role":"tool","content":"b"}]})", ApiKind::kChat) ==
        "'messages[1].role' must be one of system, user, assistant (got 'tool')");
  CHECK(error_of(R"({"messages":[{"content":"a"}]})", ApiKind::kChat) == "'messages[0].role' must be a string");
  CHECK(error_of(R"({"messages":["hi"]})", ApiKind::kChat) == "'messages[0]' must be an object");
  CHECK(error_of(R"({"messages":[{"role":"user","content":5}]})", ApiKind::kChat) ==
        "'messages[0].content' must be a string or an array of text parts");
  CHECK(error_of(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", ApiKind::kChat)
            .starts_with("'messages[0].content[0]' must be {\"type\": \"text\""));
  auto mt = parse_completion_request(R"({"messages":[{"role":"user","content":"a"}],"max_completion_tokens":5})",
                                     ApiKind::kChat);
  REQUIRE(mt.ok());
  CHECK(mt->max_tokens == 5);
}

}  // namespace
}  // namespace llmos::http
