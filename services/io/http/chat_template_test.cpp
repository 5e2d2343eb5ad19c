#include "chat_template.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "apply_template.hpp"

namespace llmos::http {
namespace {

using Json = nlohmann::ordered_json;

const char* const kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

std::vector<ChatMessage> conversation() {
  return {{"system", "You are terse."}, {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "Tell a story."}};
}

std::shared_ptr<const ChatTemplate> load(const std::string& src) {
  auto t = ChatTemplate::load(src, "<s>", "</s>");
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return *t;
}

TEST_CASE("the model's template renders the conversation") {
  ChatTemplateInput in;
  in.messages = chat_messages_json(conversation());
  auto out = load(kChatMl)->apply(in, 0);
  REQUIRE(out.ok());
  CHECK(*out ==
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nTell a story.<|im_end|>\n"
        "<|im_start|>assistant\n");
  in.add_generation_prompt = false;
  CHECK(load(kChatMl)->apply(in, 0)->ends_with("Tell a story.<|im_end|>\n"));
}

TEST_CASE("messages reach the template as llama.cpp hands them over") {
  auto t = load(kChatMl);
  const Json msgs = Json::parse(R"([
    {"role": "assistant", "content": null, "extra": 1,
     "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
    {"role": "tool", "tool_call_id": "7", "content": "42"}])");
  CHECK(t->template_messages(msgs).dump() ==
        R"([{"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"f","arguments":{"x":1}}}]},)"
        R"({"role":"tool","content":"42","tool_call_id":"7"}])");
}

TEST_CASE("a template without a system role gets the system text in front of the next message") {
  auto t = load("{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}"
                "{% endif %}<{{ m.role }}>{{ m.content }}{% endfor %}");
  CHECK_FALSE(t->supports_system_role());
  ChatTemplateInput in;
  in.messages = chat_messages_json(std::vector<ChatMessage>{{"system", "S"}, {"user", "U"}});
  CHECK(*t->apply(in, 0) == "<user>S\nU");
}

TEST_CASE("variables: enable_thinking from the template, kwargs, bos/eos, a pinned clock") {
  auto t = load("{{ bos_token }}{% if enable_thinking %}<think>{% endif %}{{ strftime_now('%Y-%m-%d') }}|{{ datetime }}"
                "|{{ extra }}{{ eos_token }}");
  CHECK(t->supports_thinking());
  ChatTemplateInput in;
  CHECK(*t->apply(in, 1749988800) == "<s><think>2025-06-15|Jun 15 2025|</s>");
  in.kwargs = {{"enable_thinking", false}, {"extra", "x"}};
  CHECK(*t->apply(in, 1749988800) == "<s>2025-06-15|Jun 15 2025|x</s>");
}

TEST_CASE("enable_thinking stays off when the template's switch changes no thinking markup") {
  CHECK_FALSE(load("Deliberation: {% if enable_thinking %}enabled{% else %}disabled{% endif %}")->supports_thinking());
  CHECK(load("{% if not enable_thinking %}<think></think>{% endif %}")->supports_thinking());
  CHECK(load("no switch")->supports_thinking());
}

TEST_CASE("a template that cannot be rendered fails at load naming the construct and line") {
  auto bad = ChatTemplate::load("ok\n{% for m in messages %}\n{{ m.content | nosuch }}{% endfor %}", "<s>", "</s>");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "unknown filter 'nosuch' (template line 3)");
  auto unclosed = ChatTemplate::load("{% if x %}", "<s>", "</s>");
  REQUIRE_FALSE(unclosed.ok());
  CHECK(unclosed.status().message() == "missing '{% endif %}' (template line 1)");
}

TEST_CASE("without a template: the plain prompt, no special tokens at all") {
  const auto pieces = render_plain_chat(conversation());
  CHECK(join_pieces(pieces) == "You are terse.\n\nUser: Hi!\nAssistant: Hello.\nUser: Tell a story.\nAssistant:");
  REQUIRE(pieces.size() == 1);
  CHECK_FALSE(pieces[0].parse_special);
  PromptInfo info;
  ChatTemplateInput in;
  in.messages = chat_messages_json(std::vector<ChatMessage>{{"user", "Hi"}});
  CHECK(*apply_chat_template(info, in, 0) == "User: Hi\nAssistant:");
  info.chat_template_error = "the model's tokenizer.chat_template cannot be rendered: x";
  CHECK(apply_chat_template(info, in, 0).status().message() == info.chat_template_error);
}

TEST_CASE("POST /apply-template bodies: fields checked by name") {
  auto r = parse_apply_template_request(
      R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": false,
          "tools": [{"type": "function"}], "chat_template_kwargs": {"enable_thinking": false}})");
  REQUIRE(r.ok());
  CHECK(r->model == "m");
  CHECK_FALSE(r->input.add_generation_prompt);
  CHECK(r->input.tools.size() == 1);
  CHECK(r->input.kwargs["enable_thinking"] == false);
  CHECK(parse_apply_template_request("[").status().message() == "the request body is not valid JSON");
  CHECK(parse_apply_template_request("{}").status().message() == "'messages' must be an array of messages");
  CHECK(parse_apply_template_request(R"({"messages": [{"content": "x"}]})").status().message() ==
        "'messages[0].role' must be a string");
  CHECK(parse_apply_template_request(R"({"messages": [], "tools": 1})").status().message() == "'tools' must be an array");
  CHECK(parse_apply_template_request(R"({"messages": [], "chat_template_kwargs": []})").status().message() ==
        "'chat_template_kwargs' must be an object");
}

}  // namespace
}  // namespace llmos::http
