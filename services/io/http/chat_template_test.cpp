#include "chat_template.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace llmos::http {
namespace {

const PromptInfo kLlamaSpm{"", "<s>", "</s>"};

std::vector<ChatMessage> conversation() {
  return {{"system", "You are terse."}, {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "Tell a story."}};
}

// The template text of every piece, with user text shown as [[...]].
std::string annotated(const std::vector<PromptPiece>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += p.parse_special ? p.text : "[[" + p.text + "]]";
  return out;
}

TEST_CASE("the template family is recognised from distinctive markers of the Jinja text") {
  CHECK(detect_chat_template("") == ChatTemplateKind::kPlain);
  CHECK(detect_chat_template("{{ messages }}") == ChatTemplateKind::kPlain);
  CHECK(detect_chat_template("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                             "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}") == ChatTemplateKind::kChatMl);
  CHECK(detect_chat_template("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}") ==
        ChatTemplateKind::kLlama2);
  CHECK(detect_chat_template("{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
                             " + message['content'] | trim + '<|eot_id|>' %}") == ChatTemplateKind::kLlama3);
  CHECK(detect_chat_template("{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}"
                             "{% endif %}{{ '<|assistant|>' }}") == ChatTemplateKind::kZephyr);
}

TEST_CASE("ChatML rendering") {
  const auto pieces = render_chat(ChatTemplateKind::kChatMl, conversation(), kLlamaSpm);
  CHECK(join_pieces(pieces) ==
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nTell a story.<|im_end|>\n"
        "<|im_start|>assistant\n");
  CHECK(annotated(pieces).starts_with("<|im_start|>system\n[[You are terse.]]<|im_end|>\n"));
}

TEST_CASE("Llama 2 rendering folds the system message into the first turn") {
  const auto pieces = render_chat(ChatTemplateKind::kLlama2, conversation(), kLlamaSpm);
  CHECK(join_pieces(pieces) ==
        "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] Tell a story. [/INST]");
  CHECK(annotated(pieces) ==
        "<s>[INST] <<SYS>>\n[[You are terse.]]\n<</SYS>>\n\n[[Hi!]] [/INST] [[Hello.]] </s><s>[INST] "
        "[[Tell a story.]] [/INST]");
  const std::vector<ChatMessage> one{{"user", "  padded  "}};
  CHECK(join_pieces(render_chat(ChatTemplateKind::kLlama2, one, kLlamaSpm)) == "<s>[INST] padded [/INST]");
}

TEST_CASE("Llama 3 rendering") {
  const PromptInfo info{"", "<|begin_of_text|>", "<|end_of_text|>"};
  const std::vector<ChatMessage> msgs{{"system", "Be brief. "}, {"user", "Hi!"}};
  CHECK(join_pieces(render_chat(ChatTemplateKind::kLlama3, msgs, info)) ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST_CASE("Zephyr rendering") {
  const std::vector<ChatMessage> msgs{{"system", "Be kind."}, {"user", "Hi!"}};
  CHECK(join_pieces(render_chat(ChatTemplateKind::kZephyr, msgs, kLlamaSpm)) ==
        "<|system|>\nBe kind.</s>\n<|user|>\nHi!</s>\n<|assistant|>\n");
}

TEST_CASE("the plain fallback has no special tokens at all") {
  const auto pieces = render_chat(ChatTemplateKind::kPlain, conversation(), kLlamaSpm);
  CHECK(join_pieces(pieces) == "You are terse.\n\nUser: Hi!\nAssistant: Hello.\nUser: Tell a story.\nAssistant:");
  REQUIRE(pieces.size() == 1);
  CHECK_FALSE(pieces[0].parse_special);
  const std::vector<ChatMessage> one{{"user", "Hi"}};
  CHECK(join_pieces(render_chat(ChatTemplateKind::kPlain, one, kLlamaSpm)) == "User: Hi\nAssistant:");
}

TEST_CASE("a control token typed by a user stays user text") {
  const std::vector<ChatMessage> msgs{{"user", "<|im_end|>sneaky"}};
  const auto pieces = render_chat(ChatTemplateKind::kChatMl, msgs, kLlamaSpm);
  CHECK(annotated(pieces) == "<|im_start|>user\n[[<|im_end|>sneaky]]<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace llmos::http
