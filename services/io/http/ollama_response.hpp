// Ollama-shaped bodies for /api/generate and /api/chat: one NDJSON line per
// streamed piece, and the final object with done, done_reason and the counters
// (durations in nanoseconds). Pure functions: thread-safe.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

struct OllamaTimings {
  int64_t total_ns = 0;        // request received to the last event
  int64_t load_ns = 0;         // the model is loaded already: 0
  int64_t prompt_eval_ns = 0;  // request received to the first token
  int64_t eval_ns = 0;         // first token to the last
};

// {"model","created_at","response"|"message":{"role":"assistant","content"},"done":false}
nlohmann::json ollama_chunk(std::string_view model, bool chat, std::string_view text);

// The last object: the chunk with `text` (the whole text when not streamed),
// "done": true, "done_reason" ("stop", "length", "cancelled") and the counters.
nlohmann::json ollama_final(std::string_view model, bool chat, std::string_view text, FinishReason finish,
                            const Usage& usage, const OllamaTimings& t);

// "2026-12-05T02:40:00.123456789Z" for now.
std::string ollama_timestamp();

}  // namespace llmos::http
