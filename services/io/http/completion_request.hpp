// The body of POST /v1/completions and /v1/chat/completions, parsed and
// validated. Every error is invalid_argument with a message naming the field
// ("'temperature' must be a number between 0 and 2"). Pure: thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat_template.hpp"
#include "llmos/common/status.hpp"
#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

enum class ApiKind { kCompletion, kChat };

struct CompletionRequest {
  ApiKind kind = ApiKind::kCompletion;
  std::string model;                  // "" when not given: the first ready model
  std::string prompt;                 // kCompletion with a text prompt
  std::vector<int32_t> prompt_ids;    // kCompletion with a token prompt
  bool prompt_is_ids = false;
  std::vector<ChatMessage> messages;  // kChat; roles system, user, assistant
  std::optional<int> max_tokens;      // >= 1 when given
  SamplingParams sampling;            // llama.cpp defaults for absent fields
  bool seed_given = false;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  Priority priority = Priority::kInteractive;
  bool ollama = false;                // Ollama's /api/generate or /api/chat: NDJSON, Ollama's shapes
  bool ollama_chat = false;           // /api/chat ("message"), not /api/generate ("response")
  std::optional<int> num_ctx;         // Ollama's options.num_ctx: must equal the model's context
  std::string keep_alive;             // Ollama's keep_alive as text ("5m", "0", "-1"); "" = not given
  bool load_only = false;             // Ollama: no prompt (or no messages): just load, or with keep_alive 0 unload
  uint64_t reservation = 0;           // not parsed: the model's reservation when it was loaded on demand
};

Result<CompletionRequest> parse_completion_request(std::string_view body, ApiKind kind);

}  // namespace llmos::http
