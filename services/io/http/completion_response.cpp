#include "completion_response.hpp"

#include <cstdio>

namespace llmos::http {

using nlohmann::json;

std::string completion_id(ApiKind kind, uint64_t salt, uint64_t sequence) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(salt),
                static_cast<unsigned long long>(sequence));
  return std::string(kind == ApiKind::kChat ? "chatcmpl-" : "cmpl-") + buf;
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

namespace {

json envelope(const ResponseMeta& meta, const char* object) {
  return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

}  // namespace

std::string_view openai_finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
    case FinishReason::kContext: return "length";
    case FinishReason::kCancelled:
    case FinishReason::kPreempted: return "cancelled";
    case FinishReason::kError: return "error";
    case FinishReason::kNone:
    case FinishReason::kStop: break;
  }
  return "stop";
}

json completion_body(const ResponseMeta& meta, std::string_view text, FinishReason finish, const Usage& usage) {
  const bool chat = meta.kind == ApiKind::kChat;
  json body = envelope(meta, chat ? "chat.completion" : "text_completion");
  json choice = {{"index", 0}};
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
    choice["logprobs"] = nullptr;
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  choice["finish_reason"] = std::string(openai_finish_reason(finish));
  body["choices"] = json::array({choice});
  body["usage"] = usage_json(usage);
  return body;
}

json stream_chunk(const ResponseMeta& meta, std::string_view text, const FinishReason* finish, bool first) {
  const bool chat = meta.kind == ApiKind::kChat;
  json body = envelope(meta, chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", 0}};
  if (chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (first && !finish)) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish ? json(std::string(openai_finish_reason(*finish))) : json(nullptr);
  body["choices"] = json::array({choice});
  return body;
}

json usage_chunk(const ResponseMeta& meta, const Usage& usage) {
  json body = envelope(meta, meta.kind == ApiKind::kChat ? "chat.completion.chunk" : "text_completion");
  body["choices"] = json::array();
  body["usage"] = usage_json(usage);
  return body;
}

std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + json_text(j) + "\n\n"; }

}  // namespace llmos::http
