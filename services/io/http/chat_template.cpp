#include "chat_template.hpp"

#include <algorithm>

namespace llmos::http {
namespace {

bool contains(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

class PieceWriter;
void write_stripped(const std::vector<PromptPiece>& pieces, PieceWriter& w);

class PieceWriter {
 public:
  void tmpl(std::string_view text) { add(text, true); }
  void content(std::string_view text) { add(text, false); }
  std::vector<PromptPiece> take() { return std::move(pieces_); }

 private:
  void add(std::string_view text, bool special) {
    if (text.empty()) return;
    if (!pieces_.empty() && pieces_.back().parse_special == special) {
      pieces_.back().text.append(text);
    } else {
      pieces_.push_back(PromptPiece{std::string(text), special});
    }
  }
  std::vector<PromptPiece> pieces_;
};

// Writes the pieces as if their joined text were stripped of leading and
// trailing whitespace (Jinja's strip()).
void write_stripped(const std::vector<PromptPiece>& pieces, PieceWriter& w) {
  const std::string all = join_pieces(pieces);
  const std::string_view t = trim(all);
  const size_t begin = t.empty() ? 0 : size_t(t.data() - all.data());
  const size_t end = begin + t.size();
  size_t at = 0;
  for (const auto& p : pieces) {
    const size_t b = std::max(at, begin), e = std::min(at + p.text.size(), end);
    if (b < e) {
      const std::string_view part = std::string_view(p.text).substr(b - at, e - b);
      p.parse_special ? w.tmpl(part) : w.content(part);
    }
    at += p.text.size();
  }
}

// <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
void render_chatml(std::span<const ChatMessage> msgs, PieceWriter& w) {
  for (const auto& m : msgs) {
    w.tmpl("<|im_start|>" + m.role + "\n");
    w.content(m.content);
    w.tmpl("<|im_end|>\n");
  }
  w.tmpl("<|im_start|>assistant\n");
}

// Meta's template: BOS and <|start_header_id|>{role}<|end_header_id|>\n\n
// before each trimmed content, <|eot_id|> after it.
void render_llama3(std::span<const ChatMessage> msgs, const PromptInfo& info, PieceWriter& w) {
  w.tmpl(info.bos_text);
  for (const auto& m : msgs) {
    w.tmpl("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
    w.content(trim(m.content));
    w.tmpl("<|eot_id|>");
  }
  w.tmpl("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// Meta's template: a leading system message is folded into the first turn as
// <<SYS>>...<</SYS>>; user turns are BOS [INST] ... [/INST], assistant turns
// " {content} " EOS. No generation prompt: the model answers after [/INST].
void render_llama2(std::span<const ChatMessage> msgs, const PromptInfo& info, PieceWriter& w) {
  std::string system;
  bool has_system = false;
  if (!msgs.empty() && msgs.front().role == "system") {
    system = msgs.front().content;
    has_system = true;
    msgs = msgs.subspan(1);
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    // The template strips the whole turn text, <<SYS>> block included.
    std::vector<PromptPiece> turn;
    if (i == 0 && has_system) {
      turn = {{"<<SYS>>\n", true}, {system, false}, {"\n<</SYS>>\n\n", true}, {m.content, false}};
    } else {
      turn = {{m.content, false}};
    }
    if (m.role == "user") {
      w.tmpl(info.bos_text + "[INST] ");
      write_stripped(turn, w);
      w.tmpl(" [/INST]");
    } else if (m.role == "assistant") {
      w.tmpl(" ");
      write_stripped(turn, w);
      w.tmpl(" " + info.eos_text);
    }
  }
}

// HuggingFace zephyr: <|{role}|>\n{content}EOS\n ... <|assistant|>\n
void render_zephyr(std::span<const ChatMessage> msgs, const PromptInfo& info, PieceWriter& w) {
  for (const auto& m : msgs) {
    w.tmpl("<|" + m.role + "|>\n");
    w.content(m.content);
    w.tmpl(info.eos_text + "\n");
  }
  w.tmpl("<|assistant|>\n");
}

// For models without a template: "User: ...\nAssistant:" turns, a system
// message as a plain first paragraph. Nothing is parsed as a special token.
void render_plain(std::span<const ChatMessage> msgs, PieceWriter& w) {
  for (const auto& m : msgs) {
    if (m.role == "system") {
      w.content(m.content + "\n\n");
    } else {
      w.content(m.role == "user" ? "User: " : "Assistant: ");
      w.content(m.content + "\n");
    }
  }
  w.content("Assistant:");
}

}  // namespace

const char* chat_template_name(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kPlain: return "plain";
    case ChatTemplateKind::kChatMl: return "chatml";
    case ChatTemplateKind::kLlama2: return "llama2";
    case ChatTemplateKind::kLlama3: return "llama3";
    case ChatTemplateKind::kZephyr: return "zephyr";
  }
  return "plain";
}

ChatTemplateKind detect_chat_template(std::string_view jinja) {
  if (contains(jinja, "<|start_header_id|>") && contains(jinja, "<|eot_id|>")) return ChatTemplateKind::kLlama3;
  if (contains(jinja, "<|im_start|>")) return ChatTemplateKind::kChatMl;
  if (contains(jinja, "<|user|>") && contains(jinja, "<|assistant|>")) return ChatTemplateKind::kZephyr;
  if (contains(jinja, "[INST]")) return ChatTemplateKind::kLlama2;
  return ChatTemplateKind::kPlain;
}

std::vector<PromptPiece> render_chat(ChatTemplateKind kind, std::span<const ChatMessage> messages,
                                     const PromptInfo& info) {
  PieceWriter w;
  switch (kind) {
    case ChatTemplateKind::kChatMl: render_chatml(messages, w); break;
    case ChatTemplateKind::kLlama3: render_llama3(messages, info, w); break;
    case ChatTemplateKind::kLlama2: render_llama2(messages, info, w); break;
    case ChatTemplateKind::kZephyr: render_zephyr(messages, info, w); break;
    case ChatTemplateKind::kPlain: render_plain(messages, w); break;
  }
  return w.take();
}

std::string join_pieces(std::span<const PromptPiece> pieces) {
  std::string out;
  for (const auto& p : pieces) out += p.text;
  return out;
}

}  // namespace llmos::http
