// ChatConversation: `llmos chat` in template mode: the messages so far and how
// each turn's prompt is made. By default llmos-io renders the model's template
// (/v1/chat/completions). With a --chat-template-file the conversation renders
// that file here, with the model's own vocabulary read from the file the
// system loaded, exactly as llmos-io would for a model loaded with it
// (http::chat_prompt_ids), and sends the prompt as token ids to
// /v1/completions. Saves and restores itself as a ChatSaves file (messages and
// template). One per chat; single-threaded.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat_http.hpp"
#include "llmos/common/status.hpp"

namespace llmos::http {
struct ModelText;
}

namespace llmos::shell {

class ChatConversation {
 public:
  // `runtime_dir`: the system's (its kernel names the model's file; saves go
  // to its chats/ folder). `base_url`: its HTTP API.
  ChatConversation(std::filesystem::path runtime_dir, std::string base_url, ChatTurnOptions options);
  ~ChatConversation();

  // Renders the template in `file` from now on. Errors, before any turn: the
  // file unreadable, the model's file not found (neither loaded nor stored),
  // or a template that cannot be rendered, naming the file, the construct and
  // the template line.
  Status use_template_file(const std::string& file);

  // One turn: `line` as the user's message, the reply streamed to `on_text`;
  // the reply joins the conversation. A failed turn leaves it as it was.
  Result<std::string> turn(const std::string& line, const std::function<void(std::string_view)>& on_text,
                           const std::atomic<bool>* cancel);

  // Keeps the messages and the template (file name and text) as NAME.
  Status save(const std::string& name) const;
  // Continues the conversation saved as NAME: its messages, rendered with the
  // template it was saved with (the file's text as saved, or the server's).
  // Returns a line saying what was restored.
  Result<std::string> restore(const std::string& name);

  size_t messages() const { return history_.size(); }
  // The template file rendered here; "" = the server renders the model's.
  const std::string& template_file() const { return template_file_; }

 private:
  Status use_template(const std::string& file, std::string source);

  std::filesystem::path runtime_dir_;
  std::string base_url_;
  ChatTurnOptions options_;
  nlohmann::json history_ = nlohmann::json::array();
  std::string template_file_, template_source_;
  std::shared_ptr<const http::ModelText> text_;  // null: the server renders
};

// The GGUF file of `model`: the one the system has loaded under that name (or
// NAME:latest), else the model store's. not_found naming the model otherwise.
Result<std::string> model_file(const std::filesystem::path& runtime_dir, const std::string& model);

}  // namespace llmos::shell
