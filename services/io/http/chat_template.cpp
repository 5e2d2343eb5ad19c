#include "chat_template.hpp"

#include <cctype>
#include <ctime>

namespace llmos::http {
namespace {

using Json = nlohmann::ordered_json;

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

}  // namespace

Json chat_messages_json(std::span<const ChatMessage> messages) {
  Json out = Json::array();
  for (const auto& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  return out;
}

Result<std::shared_ptr<const ChatTemplate>> ChatTemplate::load(std::string source, std::string bos_text,
                                                               std::string eos_text) {
  LLMOS_ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::parse(source));
  std::shared_ptr<ChatTemplate> ct(new ChatTemplate(std::move(t), std::move(bos_text), std::move(eos_text)));
  ct->typed_content_ = contains(source, "[SYSTEM_PROMPT]") && contains(source, "[TOOL_CALLS]") &&
                       contains(source, "[ARGS]") && !contains(source, "[CALL_ID]");
  // Probes, rendered once: a user turn must render; a system turn that raises or
  // vanishes means the template has no system role.
  const int64_t now = 0;
  ChatTemplateInput probe;
  probe.messages = Json::array({{{"role", "user"}, {"content", "Hello"}}});
  auto user_only = ct->render(ct->template_messages(probe.messages), probe, now, false);
  if (!user_only.ok()) return user_only.status();
  const std::string needle = "llmos-probe-system-text";
  probe.messages = Json::array({{{"role", "system"}, {"content", needle}}, {{"role", "user"}, {"content", "Hello"}}});
  auto with_system = ct->render(ct->template_messages(probe.messages), probe, now, false);
  ct->supports_system_ = with_system.ok() && with_system->text.find(needle) != std::string::npos;
  // enable_thinking, as llama-server decides it: on, unless the template reads
  // the variable and switching it changes no thinking markup (Apertus prints
  // "Deliberation: enabled/disabled"). Templates that never read it render the
  // same either way.
  if (contains(source, "enable_thinking")) {
    probe.messages = Json::array({{{"role", "user"}, {"content", "Hello"}}});
    probe.kwargs = {{"enable_thinking", false}};
    auto off = ct->render(ct->template_messages(probe.messages), probe, now, false);
    probe.kwargs = {{"enable_thinking", true}};
    auto on = ct->render(ct->template_messages(probe.messages), probe, now, false);
    auto thinking_markup = [](const std::string& text) {
      std::string lower;
      for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return lower.find("think") != std::string::npos || lower.find("reason") != std::string::npos;
    };
    ct->supports_thinking_ = !off.ok() || !on.ok() || off->text == on->text || thinking_markup(off->text) || thinking_markup(on->text);
  } else {
    ct->supports_thinking_ = true;
  }
  return std::shared_ptr<const ChatTemplate>(std::move(ct));
}

Json ChatTemplate::template_messages(const Json& messages) const {
  Json out = Json::array();
  if (!messages.is_array()) return out;
  for (const auto& m : messages) {
    if (!m.is_object()) continue;
    Json msg = Json::object();
    msg["role"] = m.value("role", Json(""));
    const Json content = m.contains("content") ? m["content"] : Json();
    msg["content"] = content.is_null() ? Json("") : content;
    for (const char* key : {"reasoning_content", "name", "tool_call_id"}) {
      if (m.contains(key) && !m[key].is_null()) msg[key] = m[key];
    }
    if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
      Json calls = m["tool_calls"];
      for (auto& call : calls) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
        Json& args = call["function"]["arguments"];
        if (args.is_string()) {
          Json parsed = Json::parse(args.get<std::string>(), nullptr, false);
          if (!parsed.is_discarded()) args = std::move(parsed);
        }
      }
      msg["tool_calls"] = std::move(calls);
    }
    out.push_back(std::move(msg));
  }
  if (!supports_system_) {
    // The first system message goes in front of the next message's text.
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i]["role"] != "system") continue;
      if (i + 1 < out.size() && out[i]["content"].is_string() && out[i + 1]["content"].is_string()) {
        out[i + 1]["content"] = out[i]["content"].get<std::string>() + "\n" + out[i + 1]["content"].get<std::string>();
        out.erase(out.begin() + static_cast<long>(i));
      }
      break;
    }
  }
  if (typed_content_) {
    for (auto& msg : out) {
      if ((msg["role"] == "system" || msg["role"] == "assistant") && msg["content"].is_string()) {
        msg["content"] = Json::array({{{"type", "text"}, {"text", msg["content"]}}});
      }
    }
  }
  return out;
}

Result<jinja::RenderedText> ChatTemplate::render(const Json& messages, const ChatTemplateInput& input,
                                                int64_t now_unix, bool mark_content) const {
  // The variables llama-server puts into a template's context.
  Json vars = Json::object();
  vars["enable_thinking"] = supports_thinking_;
  vars["preserve_reasoning"] = true;
  vars["preserve_thinking"] = true;
  vars["clear_thinking"] = false;
  vars["truncate_history_thinking"] = false;
  vars["drop_thinking"] = false;
  const std::time_t t = static_cast<std::time_t>(now_unix);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  vars["date_string"] = std::string(buf, std::strftime(buf, sizeof(buf), "%d %b %Y", &tm));
  vars["datetime"] = std::string(buf, std::strftime(buf, sizeof(buf), "%b %d %Y", &tm));
  if (input.kwargs.is_object()) {
    for (const auto& [k, v] : input.kwargs.items()) vars[k] = v;
  }
  vars["messages"] = messages;
  if (input.tools.is_array() && !input.tools.empty()) vars["tools"] = input.tools;
  vars["bos_token"] = bos_text_;
  vars["eos_token"] = eos_text_;
  vars["add_generation_prompt"] = input.add_generation_prompt;
  jinja::RenderOptions options;
  options.now_unix_seconds = now_unix;
  options.mark_message_content = mark_content;
  return template_.render_spans(vars, options);
}

Result<std::string> ChatTemplate::apply(const ChatTemplateInput& input, int64_t now_unix) const {
  LLMOS_ASSIGN_OR_RETURN(jinja::RenderedText out, render(template_messages(input.messages), input, now_unix, false));
  return std::move(out.text);
}

Result<std::vector<PromptPiece>> ChatTemplate::apply_pieces(const ChatTemplateInput& input, int64_t now_unix) const {
  LLMOS_ASSIGN_OR_RETURN(jinja::RenderedText out, render(template_messages(input.messages), input, now_unix, true));
  std::vector<PromptPiece> pieces;
  size_t at = 0;
  for (const auto& [begin, end] : out.user) {
    if (begin > at) pieces.push_back({out.text.substr(at, begin - at), true});
    pieces.push_back({out.text.substr(begin, end - begin), false});
    at = end;
  }
  if (at < out.text.size() || pieces.empty()) pieces.push_back({out.text.substr(at), true});
  return pieces;
}

std::vector<PromptPiece> render_plain_chat(std::span<const ChatMessage> messages) {
  std::string text;
  for (const auto& m : messages) {
    if (m.role == "system") {
      text += m.content + "\n\n";
    } else {
      text += (m.role == "user" ? "User: " : "Assistant: ") + m.content + "\n";
    }
  }
  text += "Assistant:";
  return {PromptPiece{std::move(text), false}};
}

std::string join_pieces(std::span<const PromptPiece> pieces) {
  std::string out;
  for (const auto& p : pieces) out += p.text;
  return out;
}

}  // namespace llmos::http
