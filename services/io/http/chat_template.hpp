// Chat templates: a model's Jinja chat template (tokenizer.chat_template or a
// --chat-template-file), parsed once and rendered by llmos_jinja with the
// messages handed over as llama.cpp hands them. A model without a template gets
// a plain "User:/Assistant:" prompt. A ChatTemplate is immutable after load():
// share it across threads and render concurrently.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "llmos/http/generation_backend.hpp"
#include "llmos/jinja/template.hpp"

namespace llmos::http {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The request messages as the OpenAI JSON a template input takes.
nlohmann::ordered_json chat_messages_json(std::span<const ChatMessage> messages);

// What POST /apply-template and chat completions hand the template.
struct ChatTemplateInput {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // OpenAI chat format
  nlohmann::ordered_json tools;                 // array, or null for none
  bool add_generation_prompt = true;
  nlohmann::ordered_json kwargs;                // chat_template_kwargs: object or null
};

class ChatTemplate {
 public:
  // Parses `source` and renders a probe conversation once; an error names the
  // construct and template line. bos/eos: the vocabulary's texts.
  static Result<std::shared_ptr<const ChatTemplate>> load(std::string source, std::string bos_text,
                                                          std::string eos_text);

  // The prompt text (special tokens spelled out, to be tokenized with
  // parse_special). now_unix: what strftime_now() reads.
  Result<std::string> apply(const ChatTemplateInput& input, int64_t now_unix) const;
  // The same prompt as pieces: what came from message content is user text
  // (its control-token texts stay ordinary text), the rest template text.
  Result<std::vector<PromptPiece>> apply_pieces(const ChatTemplateInput& input, int64_t now_unix) const;

  // The messages as the template sees them (llama.cpp's adjustments): keys role,
  // content, reasoning_content, name, tool_call_id, tool_calls; null content "";
  // tool-call arguments as objects; a system message merged into the next one
  // when the template has no system role; typed text blocks for Mistral
  // [SYSTEM_PROMPT]/[TOOL_CALLS]/[ARGS] templates.
  nlohmann::ordered_json template_messages(const nlohmann::ordered_json& messages) const;

  bool supports_system_role() const { return supports_system_; }
  bool supports_thinking() const { return supports_thinking_; }

 private:
  ChatTemplate(jinja::Template t, std::string bos, std::string eos)
      : template_(std::move(t)), bos_text_(std::move(bos)), eos_text_(std::move(eos)) {}
  Result<jinja::RenderedText> render(const nlohmann::ordered_json& messages, const ChatTemplateInput& input,
                                     int64_t now_unix, bool mark_content) const;

  jinja::Template template_;
  std::string bos_text_, eos_text_;
  bool supports_system_ = true;
  bool supports_thinking_ = false;
  bool typed_content_ = false;
};

// For models without a template: "User: ...\nAssistant:" turns, a system
// message as a plain first paragraph. Nothing is parsed as a special token.
std::vector<PromptPiece> render_plain_chat(std::span<const ChatMessage> messages);

// The pieces' text joined (for logs and tests).
std::string join_pieces(std::span<const PromptPiece> pieces);

}  // namespace llmos::http
