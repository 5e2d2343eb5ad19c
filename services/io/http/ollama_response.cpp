#include "ollama_response.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace llmos::http {

using nlohmann::json;

std::string ollama_timestamp() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  const std::time_t secs = std::time_t(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

json ollama_chunk(std::string_view model, bool chat, std::string_view text) {
  json j = {{"model", model}, {"created_at", ollama_timestamp()}};
  if (chat) j["message"] = {{"role", "assistant"}, {"content", text}};
  else j["response"] = text;
  j["done"] = false;
  return j;
}

json ollama_final(std::string_view model, bool chat, std::string_view text, FinishReason finish, const Usage& usage,
                  const OllamaTimings& t) {
  json j = ollama_chunk(model, chat, text);
  j["done"] = true;
  j["done_reason"] = finish == FinishReason::kStop        ? "stop"
                     : finish == FinishReason::kCancelled ? "cancelled"
                                                          : "length";
  j["total_duration"] = t.total_ns;
  j["load_duration"] = t.load_ns;
  j["prompt_eval_count"] = usage.prompt_tokens;
  j["prompt_eval_duration"] = t.prompt_eval_ns;
  j["eval_count"] = usage.completion_tokens;
  j["eval_duration"] = t.eval_ns;
  return j;
}

}  // namespace llmos::http
