// OpenAI-shaped response bodies for completions and chat completions, whole or
// as server-sent-event chunks, and the SSE framing. Pure functions: thread-safe.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "completion_request.hpp"
#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

struct ResponseMeta {
  ApiKind kind = ApiKind::kCompletion;
  std::string id;       // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

// "cmpl-<hex>" / "chatcmpl-<hex>" from a per-server salt and a sequence number.
std::string completion_id(ApiKind kind, uint64_t salt, uint64_t sequence);

// {"id","object":"text_completion"|"chat.completion","created","model",
//  "choices":[{"index":0,"text"|"message":{role,content},"finish_reason"}],"usage":{...}}
// OpenAI's finish_reason for ours: "stop", "length" (also when the context
// filled), "cancelled", "error".
std::string_view openai_finish_reason(FinishReason r);

nlohmann::json completion_body(const ResponseMeta& meta, std::string_view text, FinishReason finish,
                               const Usage& usage);

// One streamed chunk: a text (completions) or delta (chat) piece. The first
// chat chunk carries the role; the last one carries finish_reason (pass
// finish = nullptr for the chunks before it).
nlohmann::json stream_chunk(const ResponseMeta& meta, std::string_view text, const FinishReason* finish,
                            bool first);
// The final chunk with stream_options.include_usage: empty choices and usage.
nlohmann::json usage_chunk(const ResponseMeta& meta, const Usage& usage);

nlohmann::json usage_json(const Usage& usage);

// JSON as one line; invalid UTF-8 (never expected) becomes U+FFFD.
std::string json_text(const nlohmann::json& j);
// "data: <json>\n\n"
std::string sse_event(const nlohmann::json& j);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace llmos::http
