#include "completion_response.hpp"

#include <doctest/doctest.h>

namespace llmos::http {
namespace {

using nlohmann::json;

ResponseMeta meta(ApiKind kind) { return ResponseMeta{kind, completion_id(kind, 0xabc, 7), 1700000000, "stories"}; }

TEST_CASE("completion ids") {
  CHECK(completion_id(ApiKind::kCompletion, 0xabc, 7) == "cmpl-0000000000000abc00000007");
  CHECK(completion_id(ApiKind::kChat, 1, 2).starts_with("chatcmpl-"));
}

TEST_CASE("a whole text completion is shaped like OpenAI's") {
  const json j = completion_body(meta(ApiKind::kCompletion), " there was", FinishReason::kLength, Usage{5, 3});
  CHECK(j["object"] == "text_completion");
  CHECK(j["id"] == "cmpl-0000000000000abc00000007");
  CHECK(j["created"] == 1700000000);
  CHECK(j["model"] == "stories");
  CHECK(j["choices"].size() == 1);
  CHECK(j["choices"][0]["index"] == 0);
  CHECK(j["choices"][0]["text"] == " there was");
  CHECK(j["choices"][0]["finish_reason"] == "length");
  CHECK(j["usage"] == json{{"prompt_tokens", 5}, {"completion_tokens", 3}, {"total_tokens", 8}});
}

TEST_CASE("a whole chat completion carries an assistant message") {
  const json j = completion_body(meta(ApiKind::kChat), "Hello.", FinishReason::kStop, Usage{9, 2});
  CHECK(j["object"] == "chat.completion");
  CHECK(j["choices"][0]["message"] == json{{"role", "assistant"}, {"content", "Hello."}});
  CHECK(j["choices"][0]["finish_reason"] == "stop");
}

TEST_CASE("stream chunks: role first, deltas, finish_reason last, optional usage") {
  const auto m = meta(ApiKind::kChat);
  json first = stream_chunk(m, "", nullptr, true);
  CHECK(first["object"] == "chat.completion.chunk");
  CHECK(first["choices"][0]["delta"] == json{{"role", "assistant"}, {"content", ""}});
  CHECK(first["choices"][0]["finish_reason"].is_null());
  json mid = stream_chunk(m, "Hel", nullptr, false);
  CHECK(mid["choices"][0]["delta"] == json{{"content", "Hel"}});
  const FinishReason stop = FinishReason::kStop;
  json last = stream_chunk(m, "", &stop, false);
  CHECK(last["choices"][0]["delta"] == json::object());
  CHECK(last["choices"][0]["finish_reason"] == "stop");
  json usage = usage_chunk(m, Usage{1, 2});
  CHECK(usage["choices"].empty());
  CHECK(usage["usage"]["total_tokens"] == 3);

  json text = stream_chunk(meta(ApiKind::kCompletion), " a", nullptr, false);
  CHECK(text["object"] == "text_completion");
  CHECK(text["choices"][0]["text"] == " a");
}

TEST_CASE("SSE framing: one data line per event, a blank line after it") {
  CHECK(sse_event(json{{"a", "x\ny"}}) == "data: {\"a\":\"x\\ny\"}\n\n");
  CHECK(kSseDone == "data: [DONE]\n\n");
}

TEST_CASE("invalid UTF-8 never breaks a response") {
  CHECK(json_text(json("ab\xff")) == "\"ab\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace llmos::http
