// ChatHttp: one turn of `llmos chat` sent to the running system's HTTP API and
// streamed back: as messages to /v1/chat/completions (llmos-io renders the
// model's chat template, the same path every chat request takes), or, when the
// chat renders a --chat-template-file itself, as prompt token ids to
// /v1/completions. The caller keeps the conversation. One blocking connection
// per request, with the API key as a bearer token; used by one thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::shell {

struct ChatTurnOptions {
  std::string model;
  int max_tokens = 128;
  float temperature = 0.8f;
  int64_t seed = -1;    // -1: the server draws one
  std::string api_key;  // sent as "Authorization: Bearer KEY"; "" = none
};

// `base_url` is the system's http.url ("http://127.0.0.1:8080" or
// "http://[::1]:8080"). `messages` is the whole conversation so far (OpenAI
// shape), ending with the user's turn. `on_text` gets each piece as it comes;
// the whole reply is returned. Setting `*cancel` closes the connection (the
// server cancels the generation) and returns what came so far. Errors: the
// server's message (400/401/404/500...), or the connection's, naming the URL.
Result<std::string> chat_turn(const std::string& base_url, const ChatTurnOptions& options,
                              const nlohmann::json& messages, const std::function<void(std::string_view)>& on_text,
                              const std::atomic<bool>* cancel);

// The same for a prompt already rendered and tokenized here: `prompt_ids` go
// as /v1/completions' `prompt` (token ids, used as given, as llama.cpp's server
// takes them).
Result<std::string> completion_turn(const std::string& base_url, const ChatTurnOptions& options,
                                    const std::vector<int32_t>& prompt_ids,
                                    const std::function<void(std::string_view)>& on_text,
                                    const std::atomic<bool>* cancel);

// Whether the API takes `options.api_key` (GET /v1/models, which needs a key
// when the system has --api-keys): the server's 401 message otherwise, with
// how to give a key. Run before a chat starts.
Status check_api_key(const std::string& base_url, const ChatTurnOptions& options);

}  // namespace llmos::shell
