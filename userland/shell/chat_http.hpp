// ChatHttp: one turn of `llmos chat` sent as messages to the running system's
// /v1/chat/completions (llmos-io renders the model's chat template, the same
// path every chat request takes) and streamed back. The caller keeps the
// conversation. One blocking connection per turn; used by one thread.
#pragma once
#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::shell {

struct ChatTurnOptions {
  std::string model;
  int max_tokens = 128;
  float temperature = 0.8f;
  int64_t seed = -1;  // -1: the server draws one
};

// `base_url` is the system's http.url ("http://127.0.0.1:8080" or
// "http://[::1]:8080"). `messages` is the whole conversation so far (OpenAI
// shape), ending with the user's turn. `on_text` gets each piece as it comes;
// the whole reply is returned. Setting `*cancel` closes the connection (the
// server cancels the generation) and returns what came so far. Errors: the
// server's message (400/404/500...), or the connection's, naming the URL.
Result<std::string> chat_turn(const std::string& base_url, const ChatTurnOptions& options,
                              const nlohmann::json& messages, const std::function<void(std::string_view)>& on_text,
                              const std::atomic<bool>* cancel);

}  // namespace llmos::shell
