// `llmos chat` against a running system's HTTP API: /save and /restore of a
// template-mode conversation (its messages and template, in the runtime
// directory's chats/ folder) resume it exactly, with the server's template or
// a --chat-template-file; and the API key (--api-key or LLMOS_API_KEY) that a
// system started with --api-keys asks for, refused clearly without it.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "chat_test_text.hpp"
#include "system_harness.hpp"
#include "test_client.hpp"

namespace llmos::testing {
namespace {

using http::testing::Connection;
using nlohmann::json;

json user(const std::string& text) { return {{"role", "user"}, {"content", text}}; }
json assistant(const std::string& text) { return {{"role", "assistant"}, {"content", text}}; }

// The greedy chat reply of the API to `messages`.
std::string api_reply(Connection& c, const std::string& model, const json& messages, const std::string& auth = "") {
  auto r = c.post("/v1/chat/completions",
                  json{{"model", model}, {"messages", messages}, {"max_tokens", 16}, {"temperature", 0}}, auth);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.js()["choices"][0]["message"]["content"].get<std::string>();
}

// The greedy completion of kChatMl's rendering of `messages`, tokenized.
std::string chatml_reply(System& sys, Connection& c, const std::string& model, const json& messages) {
  std::string text;
  for (const auto& m : messages) {
    text += "<|im_start|>" + m["role"].get<std::string>() + "\n" + m["content"].get<std::string>() + "<|im_end|>\n";
  }
  text += "<|im_start|>assistant\n";
  auto t = sys.llmos({"tokenize", "--model", stories_model(), "--json", "--bos", "--", text});
  REQUIRE_MESSAGE(t.exit_code == 0, t.err);
  auto r = c.post("/v1/completions", json{{"model", model}, {"prompt", json::parse(t.out)["ids"]},
                                          {"max_tokens", 16}, {"temperature", 0}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.js()["choices"][0]["text"].get<std::string>();
}

ProcessResult chat(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {kLlmos, "chat"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--temperature", "0", "-n", "16"});
  return run_with_input(argv, input);
}

TEST_CASE("/save and /restore keep a template-mode conversation: its messages and its template") {
  System sys({"--http", "127.0.0.1:0"});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  const std::string chatml = write_file(sys.dir() / "chatml.jinja", kChatMl);
  auto load = sys.llmos({"load", stories_model(), "--name", "stories", "--chat-template-file", chatml});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  Connection c(port);

  // The server's template: one turn, saved.
  auto first = chat({"stories"}, "Once upon a time\n/save tale\n");
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const std::string reply1 = api_reply(c, "stories", json::array({user("Once upon a time")}));
  CHECK(first.out.find(reply1 + "\n") != std::string::npos);
  CHECK_MESSAGE(first.out.find("saved as chat 'tale' (2 messages)") != std::string::npos, first.out);
  std::ifstream saved(sys.dir() / "chats" / "tale.json");
  const json file = json::parse(saved);
  CHECK(file["model"] == "stories");
  CHECK(file["template"].is_null());
  CHECK(file["messages"] == json::array({user("Once upon a time"), assistant(reply1)}));

  // Restored in a new chat, the next turn continues that conversation.
  auto second = chat({"stories"}, "/restore tale\nThe cat\n/chats\n/restore nope\n");
  REQUIRE_MESSAGE(second.exit_code == 0, second.err);
  CHECK_MESSAGE(second.out.find("continuing chat 'tale' (2 messages, the model's chat template)") != std::string::npos,
                second.out);
  const std::string reply2 =
      api_reply(c, "stories", json::array({user("Once upon a time"), assistant(reply1), user("The cat")}));
  CHECK_MESSAGE(second.out.find(reply2 + "\n") != std::string::npos, second.out);
  CHECK(reply2 != api_reply(c, "stories", json::array({user("The cat")})));
  CHECK(second.out.find("  tale\n") != std::string::npos);
  CHECK_MESSAGE(second.err.find("no saved chat named 'nope'") != std::string::npos, second.err);

  // A --chat-template-file conversation keeps the file's text: restored
  // without the option, after the file changed, it renders as saved.
  auto plain = sys.llmos({"load", stories_model(), "--name", "plain"});
  REQUIRE_MESSAGE(plain.exit_code == 0, plain.err);
  const std::string mine = write_file(sys.dir() / "mine.jinja", kChatMl);
  auto third = chat({"plain", "--chat-template-file", mine}, "Once upon a time\n/save filed\n");
  REQUIRE_MESSAGE(third.exit_code == 0, third.err);
  const std::string reply3 = chatml_reply(sys, c, "plain", json::array({user("Once upon a time")}));
  CHECK_MESSAGE(third.out.find(reply3 + "\n") != std::string::npos, third.out);
  write_file(mine, "{{ 'changed' }}");
  auto fourth = chat({"plain"}, "/restore filed\nThe cat\n");
  REQUIRE_MESSAGE(fourth.exit_code == 0, fourth.err);
  CHECK_MESSAGE(fourth.out.find("continuing chat 'filed' (2 messages, chat template file '" + mine + "')") !=
                    std::string::npos,
                fourth.out);
  const std::string reply4 = chatml_reply(
      sys, c, "plain", json::array({user("Once upon a time"), assistant(reply3), user("The cat")}));
  CHECK_MESSAGE(fourth.out.find(reply4 + "\n") != std::string::npos, fourth.out);
}

TEST_CASE("llmos chat sends the API key a system with --api-keys asks for") {
  const std::string keys = write_file(std::filesystem::temp_directory_path() /
                                          ("llmos-chat-keys-" + std::to_string(::getpid()) + ".txt"),
                                      "user-key\nadmin:admin-key\n");
  ::unsetenv("LLMOS_API_KEY");
  System sys({"--http", "127.0.0.1:0", "--api-keys", keys});
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  const uint16_t port = sys.http_port();
  REQUIRE(port != 0);
  auto load = sys.llmos({"load", stories_model(), "--name", "stories"});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  Connection c(port);
  const std::string reply = api_reply(c, "stories", json::array({user("Once upon a time")}), "Bearer user-key");

  // Without a key, or with a wrong one: one clear error before the chat starts.
  auto none = chat({"stories"}, "Once upon a time\n");
  CHECK(none.exit_code == 1);
  CHECK_MESSAGE(none.err.find("missing API key") != std::string::npos, none.err);
  CHECK(none.err.find("--api-key KEY or the environment variable LLMOS_API_KEY") != std::string::npos);
  CHECK(none.out.find(reply) == std::string::npos);
  auto wrong = chat({"stories", "--api-key", "nope"}, "Once upon a time\n");
  CHECK(wrong.exit_code == 1);
  CHECK_MESSAGE(wrong.err.find("invalid API key") != std::string::npos, wrong.err);

  // With it, from the option or the environment, the chat works.
  auto with_option = chat({"stories", "--api-key", "user-key"}, "Once upon a time\n");
  REQUIRE_MESSAGE(with_option.exit_code == 0, with_option.err);
  CHECK_MESSAGE(with_option.out.find(reply + "\n") != std::string::npos, with_option.out);
  ::setenv("LLMOS_API_KEY", "user-key", 1);
  auto with_env = chat({"stories"}, "Once upon a time\n");
  const std::string chatml = write_file(sys.dir() / "chatml.jinja", kChatMl);
  auto with_template = chat({"stories", "--chat-template-file", chatml}, "Once upon a time\n");
  ::unsetenv("LLMOS_API_KEY");
  REQUIRE_MESSAGE(with_env.exit_code == 0, with_env.err);
  CHECK_MESSAGE(with_env.out.find(reply + "\n") != std::string::npos, with_env.out);
  // The rendered prompt goes to /v1/completions with the key too.
  REQUIRE_MESSAGE(with_template.exit_code == 0, with_template.err);
  auto t = sys.llmos({"tokenize", "--model", stories_model(), "--json", "--bos", "--",
                      "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n"});
  REQUIRE(t.exit_code == 0);
  auto r = c.post("/v1/completions", json{{"model", "stories"}, {"prompt", json::parse(t.out)["ids"]},
                                          {"max_tokens", 16}, {"temperature", 0}},
                  "Bearer user-key");
  REQUIRE(r.status == 200);
  CHECK_MESSAGE(with_template.out.find(r.js()["choices"][0]["text"].get<std::string>() + "\n") != std::string::npos,
                with_template.out);
  std::filesystem::remove(keys);
}

}  // namespace
}  // namespace llmos::testing
