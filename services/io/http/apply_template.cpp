#include "apply_template.hpp"

namespace llmos::http {

using Json = nlohmann::ordered_json;

Result<ApplyTemplateRequest> parse_apply_template_request(std::string_view body) {
  Json obj = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return invalid_argument("the request body is not valid JSON");
  if (!obj.is_object()) return invalid_argument("the request body must be a JSON object");
  ApplyTemplateRequest r;
  if (obj.contains("model") && !obj["model"].is_null()) {
    if (!obj["model"].is_string()) return invalid_argument("'model' must be a string");
    r.model = obj["model"].get<std::string>();
  }
  if (!obj.contains("messages") || !obj["messages"].is_array()) {
    return invalid_argument("'messages' must be an array of messages");
  }
  for (size_t i = 0; i < obj["messages"].size(); ++i) {
    const Json& m = obj["messages"][i];
    const std::string where = "'messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_argument(where + "' must be an object");
    if (!m.contains("role") || !m["role"].is_string()) return invalid_argument(where + ".role' must be a string");
    if (m.contains("content") && !(m["content"].is_null() || m["content"].is_string() || m["content"].is_array())) {
      return invalid_argument(where + ".content' must be a string, an array of parts or null");
    }
  }
  r.input.messages = obj["messages"];
  if (obj.contains("tools") && !obj["tools"].is_null()) {
    if (!obj["tools"].is_array()) return invalid_argument("'tools' must be an array");
    r.input.tools = obj["tools"];
  }
  if (obj.contains("add_generation_prompt") && !obj["add_generation_prompt"].is_null()) {
    if (!obj["add_generation_prompt"].is_boolean()) return invalid_argument("'add_generation_prompt' must be a boolean");
    r.input.add_generation_prompt = obj["add_generation_prompt"].get<bool>();
  }
  if (obj.contains("chat_template_kwargs") && !obj["chat_template_kwargs"].is_null()) {
    if (!obj["chat_template_kwargs"].is_object()) return invalid_argument("'chat_template_kwargs' must be an object");
    r.input.kwargs = obj["chat_template_kwargs"];
  }
  return r;
}

Result<std::string> apply_chat_template(const PromptInfo& info, const ChatTemplateInput& input, int64_t now_unix) {
  if (info.chat) return info.chat->apply(input, now_unix);
  if (!info.chat_template_error.empty()) return failed(info.chat_template_error);
  std::vector<ChatMessage> messages;
  for (const auto& m : input.messages) {
    ChatMessage msg;
    msg.role = m.value("role", "");
    if (m.contains("content") && m["content"].is_string()) msg.content = m["content"].get<std::string>();
    if (m.contains("content") && m["content"].is_array()) {
      for (const auto& part : m["content"]) {
        if (part.is_object() && part.contains("text") && part["text"].is_string()) msg.content += part["text"].get<std::string>();
      }
    }
    messages.push_back(std::move(msg));
  }
  return join_pieces(render_plain_chat(messages));
}

}  // namespace llmos::http
