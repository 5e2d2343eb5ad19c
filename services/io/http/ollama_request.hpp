// The body of Ollama's POST /api/generate and /api/chat, parsed into the same
// CompletionRequest the OpenAI endpoints use (ollama = true). Every field or
// option llmos does not honour is refused, naming it. Pure: thread-safe.
#pragma once
#include <string_view>

#include "completion_request.hpp"

namespace llmos::http {

// Ollama's keep_alive 0 ("0", "0s", "0.0m"...): unload as soon as it is idle.
bool keep_alive_is_zero(std::string_view keep_alive);

// kCompletion = /api/generate, kChat = /api/chat. A generate request without
// "raw": true becomes a chat request of its "system" and "prompt" (Ollama
// renders the model's template around the prompt); "raw": true is the prompt as is.
Result<CompletionRequest> parse_ollama_request(std::string_view body, ApiKind kind);

}  // namespace llmos::http
