// Chat templates: turns chat messages into prompt pieces the way the model was
// trained. The template family is recognised from distinctive markers in the
// GGUF's Jinja text (tokenizer.chat_template); the Jinja is never executed.
// Pure functions: thread-safe.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

enum class ChatTemplateKind { kPlain, kChatMl, kLlama2, kLlama3, kZephyr };
const char* chat_template_name(ChatTemplateKind kind);  // "plain", "chatml", ...

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The family of `jinja`; kPlain when it is empty or not recognised.
ChatTemplateKind detect_chat_template(std::string_view jinja);

// The prompt for `messages` followed by the start of the assistant's turn.
// Template text is a piece with parse_special; message contents are plain
// pieces, so a user cannot type a control token. bos_text/eos_text come from
// the model's vocabulary (Llama 2 and Zephyr spell them into the prompt).
std::vector<PromptPiece> render_chat(ChatTemplateKind kind, std::span<const ChatMessage> messages,
                                     const PromptInfo& info);

// The pieces' text joined (for logs and tests).
std::string join_pieces(std::span<const PromptPiece> pieces);

}  // namespace llmos::http
