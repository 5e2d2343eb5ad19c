// End-to-end chat templates in a running system: `llmos load
// --chat-template-file` (and the admin API's chat_template_file) makes
// llmos-io render that template for the model's chat requests. The prompt the
// engine received is read back by its observable effects: the chat request's
// prompt token count equals `llmos tokenize` of the rendered prompt, and its
// greedy text equals a completion sent those very token ids. A template that
// cannot be rendered is said at load; the model still serves completions.
// `llmos chat` goes the same way, keeping the conversation across turns; with
// --chat-template-file it renders the file itself and the prompt tokens the
// server counts are the rendering's, tokenized.
#include <doctest/doctest.h>

#include <fstream>

#include "chat_test_text.hpp"
#include "system_harness.hpp"
#include "test_client.hpp"

namespace llmos::testing {
namespace {

using http::testing::Connection;
using nlohmann::json;

const json kMessages = json::array({{{"role", "system"}, {"content", "You tell short stories."}},
                                    {{"role", "user"}, {"content", "Once upon a time"}}});
const std::string kRendered =
    "<|im_start|>system\nYou tell short stories.<|im_end|>\n<|im_start|>user\nOnce upon a time<|im_end|>\n"
    "<|im_start|>assistant\n";

// `llmos tokenize` of `text` with BOS, on the model file (no system involved).
std::vector<int32_t> tokenize(System& sys, const std::string& text) {
  auto r = sys.llmos({"tokenize", "--model", stories_model(), "--json", "--bos", "--", text});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out)["ids"].get<std::vector<int32_t>>();
}

// kChatMl's rendering of `messages` with the generation prompt.
std::string chatml(const json& messages) {
  std::string out;
  for (const auto& m : messages) {
    out += "<|im_start|>" + m["role"].get<std::string>() + "\n" + m["content"].get<std::string>() + "<|im_end|>\n";
  }
  return out + "<|im_start|>assistant\n";
}

// The prompt tokens of every generation the HTTP API has completed (/metrics).
uint64_t prompt_tokens_total(Connection& c) {
  auto r = c.send(http::testing::bhttp::verb::get, "/metrics");
  REQUIRE(r.status == 200);
  const std::string name = "\nllmos_prompt_tokens_total ";
  const size_t at = r.body.find(name);
  REQUIRE_MESSAGE(at != std::string::npos, r.body);
  return std::stoull(r.body.substr(at + name.size()));
}

// The greedy completion of `ids`.
std::string complete(Connection& c, const std::vector<int32_t>& ids, int max_tokens) {
  auto r = c.post("/v1/completions",
                  json{{"model", "stories"}, {"prompt", ids}, {"max_tokens", max_tokens}, {"temperature", 0}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.js()["choices"][0]["text"].get<std::string>();
}

// The chat request's prompt is the template's rendering: same token count as
// the rendered text tokenized, same greedy text as a completion of those ids.
void check_chat_prompt(System& sys, Connection& c, const std::string& model) {
  auto applied = c.post("/apply-template", json{{"model", model}, {"messages", kMessages}});
  REQUIRE_MESSAGE(applied.status == 200, applied.body);
  CHECK(applied.js()["prompt"] == kRendered);

  auto chat = c.post("/v1/chat/completions",
                     json{{"model", model}, {"messages", kMessages}, {"max_tokens", 24}, {"temperature", 0}});
  REQUIRE_MESSAGE(chat.status == 200, chat.body);
  const std::vector<int32_t> ids = tokenize(sys, kRendered);
  CHECK(chat.js()["usage"]["prompt_tokens"] == ids.size());
  auto plain = c.post("/v1/completions", json{{"model", model}, {"prompt", ids}, {"max_tokens", 24}, {"temperature", 0}});
  REQUIRE_MESSAGE(plain.status == 200, plain.body);
  CHECK(plain.js()["usage"]["prompt_tokens"] == ids.size());
  const std::string text = chat.js()["choices"][0]["message"]["content"];
  CHECK(!text.empty());
  CHECK(text == plain.js()["choices"][0]["text"].get<std::string>());
}

TEST_CASE("llmos load --chat-template-file: chat through the system gets the prompt the template renders") {
  System sys({"--http", "127.0.0.1:0"});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  const std::string chatml = write_file(sys.dir() / "chatml.jinja", kChatMl);

  // A template file that does not exist refuses the load, naming it.
  auto missing = sys.llmos({"load", stories_model(), "--name", "stories", "--chat-template-file", "/no/such.jinja"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("/no/such.jinja") != std::string::npos);
  CHECK(sys.ps()["models"].empty());

  auto load = sys.llmos({"load", stories_model(), "--name", "stories", "--chat-template-file", chatml});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  CHECK(load.err.find("warning") == std::string::npos);
  auto ps = sys.ps();
  REQUIRE(ps["models"].size() == 1);
  CHECK(ps["models"][0]["chat_template_file"] == chatml);  // kept by the kernel with the model
  Connection c(port);
  check_chat_prompt(sys, c, "stories");

  // `llmos chat` sends messages through the same path and keeps the history:
  // its second reply is the API's reply to the whole two-turn conversation.
  auto chat = run_with_input({kLlmos, "chat", "stories", "--temperature", "0", "-n", "20"},
                             "Once upon a time\nThe cat\n");
  REQUIRE_MESSAGE(chat.exit_code == 0, chat.err);
  json messages = json::array({{{"role", "user"}, {"content", "Once upon a time"}}});
  auto first = c.post("/v1/chat/completions", json{{"model", "stories"}, {"messages", messages}, {"max_tokens", 20},
                                                     {"temperature", 0}});
  REQUIRE(first.status == 200);
  const std::string reply1 = first.js()["choices"][0]["message"]["content"];
  messages.push_back({{"role", "assistant"}, {"content", reply1}});
  messages.push_back({{"role", "user"}, {"content", "The cat"}});
  auto second = c.post("/v1/chat/completions", json{{"model", "stories"}, {"messages", messages}, {"max_tokens", 20},
                                                      {"temperature", 0}});
  REQUIRE(second.status == 200);
  const std::string reply2 = second.js()["choices"][0]["message"]["content"];
  const size_t at1 = chat.out.find(reply1 + "\n");
  REQUIRE_MESSAGE(at1 != std::string::npos, chat.out);
  CHECK_MESSAGE(chat.out.find(reply2 + "\n", at1 + reply1.size()) != std::string::npos, chat.out);
  // Without the history the second turn would be answered differently.
  auto alone = c.post("/v1/chat/completions", json{{"model", "stories"},
                                                     {"messages", {{{"role", "user"}, {"content", "The cat"}}}},
                                                     {"max_tokens", 20}, {"temperature", 0}});
  REQUIRE(alone.status == 200);
  CHECK(alone.js()["choices"][0]["message"]["content"] != reply2);
}

TEST_CASE("llmos chat --chat-template-file: the server receives the file's rendering, tokenized") {
  System sys({"--http", "127.0.0.1:0"});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  const std::string chatml_file = write_file(sys.dir() / "chatml.jinja", kChatMl);
  // Loaded without a template: stories260K has none, so the server alone
  // would build the plain "User: ..." prompt.
  auto load = sys.llmos({"load", stories_model(), "--name", "stories"});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  Connection c(port);

  const uint64_t before = prompt_tokens_total(c);
  auto chat = run_with_input(
      {kLlmos, "chat", "stories", "--chat-template-file", chatml_file, "--temperature", "0", "-n", "20"},
      "Once upon a time\nThe cat\n");
  REQUIRE_MESSAGE(chat.exit_code == 0, chat.err);
  const uint64_t received = prompt_tokens_total(c) - before;

  // Each turn's prompt is the template's rendering of the conversation so far.
  json messages = json::array({{{"role", "user"}, {"content", "Once upon a time"}}});
  const std::vector<int32_t> ids1 = tokenize(sys, chatml(messages));
  const std::string reply1 = complete(c, ids1, 20);
  messages.push_back({{"role", "assistant"}, {"content", reply1}});
  messages.push_back({{"role", "user"}, {"content", "The cat"}});
  const std::vector<int32_t> ids2 = tokenize(sys, chatml(messages));
  const std::string reply2 = complete(c, ids2, 20);
  CHECK(received == ids1.size() + ids2.size());
  const size_t at1 = chat.out.find(reply1 + "\n");
  REQUIRE_MESSAGE(at1 != std::string::npos, chat.out);
  CHECK_MESSAGE(chat.out.find(reply2 + "\n", at1 + reply1.size()) != std::string::npos, chat.out);
  // The server's own chat prompt for the first turn is another one.
  auto plain = c.post("/v1/chat/completions", json{{"model", "stories"},
                                                    {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                                                    {"max_tokens", 1}});
  REQUIRE(plain.status == 200);
  CHECK(plain.js()["usage"]["prompt_tokens"] != ids1.size());

  // A template that cannot be rendered, or a file that cannot be read, is one
  // error naming it before the chat starts: nothing is generated.
  const std::string broken = write_file(sys.dir() / "broken.jinja", "{{ messages[0].content | nosuch }}\n");
  const uint64_t quiet = prompt_tokens_total(c);
  auto bad = run_with_input({kLlmos, "chat", "stories", "--chat-template-file", broken}, "Once upon a time\n");
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.err.find("chat template file '" + broken + "' cannot be rendered: unknown filter 'nosuch' "
                             "(template line 1)") != std::string::npos,
                bad.err);
  auto missing = run_with_input({kLlmos, "chat", "stories", "--chat-template-file", "/no/such.jinja"}, "Once\n");
  CHECK(missing.exit_code == 1);
  CHECK_MESSAGE(missing.err.find("cannot read chat template file '/no/such.jinja'") != std::string::npos, missing.err);
  auto raw = run_with_input({kLlmos, "chat", "stories", "--chat-template-file", chatml_file, "--continue"}, "Once\n");
  CHECK(raw.exit_code == 2);
  CHECK(prompt_tokens_total(c) == quiet);
}

TEST_CASE("admin load with chat_template_file; a template that cannot be rendered fails at load, not the model") {
  System sys({"--http", "127.0.0.1:0"});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  const std::string chatml = write_file(sys.dir() / "chatml.jinja", kChatMl);
  const std::string broken =
      write_file(sys.dir() / "broken.jinja", "{% for message in messages %}\n{{ message.content }}\n{% if x %}\n");
  Connection c(port);
  {
    auto r = c.post("/admin/models", json{{"path", stories_model()}, {"name", "viahttp"}, {"chat_template_file", chatml}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    check_chat_prompt(sys, c, "viahttp");
    auto unreadable = c.post("/admin/models", json{{"path", stories_model()}, {"name", "u"},
                                                   {"chat_template_file", chatml + ".missing"}});
    CHECK(unreadable.status == 404);
    CHECK(unreadable.js()["error"]["message"].get<std::string>().find("chatml.jinja.missing") != std::string::npos);
  }

  auto load = sys.llmos({"load", stories_model(), "--name", "broken", "--chat-template-file", broken});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  CHECK(load.err.find("warning") != std::string::npos);
  CHECK(load.err.find("broken.jinja") != std::string::npos);
  CHECK(load.err.find("template line") != std::string::npos);
  auto chat = c.post("/v1/chat/completions", json{{"model", "broken"}, {"messages", kMessages}, {"max_tokens", 4}});
  CHECK(chat.status == 500);
  CHECK(chat.js()["error"]["message"].get<std::string>().find("template line") != std::string::npos);
  auto plain = c.post("/v1/completions", json{{"model", "broken"}, {"prompt", "Once"}, {"max_tokens", 4}, {"temperature", 0}});
  CHECK_MESSAGE(plain.status == 200, plain.body);
  CHECK(sys.log().find("model 'broken': the model's chat template file") != std::string::npos);
}

}  // namespace
}  // namespace llmos::testing
