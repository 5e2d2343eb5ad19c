// --chat-template-file on the real engine (LocalBackend, synthetic model): the
// file's template renders /apply-template and chat prompts; a template that
// cannot be rendered is reported at load and fails chat, while completions work;
// an unreadable file fails the load naming it. chat_prompt_ids (what `llmos
// chat --chat-template-file` sends) builds the chat request's very prompt.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "chat_template.hpp"
#include "llmos/http/http_server.hpp"
#include "llmos/http/local_backend.hpp"
#include "llmos/http/model_text.hpp"
#include "test_client.hpp"
#include "tiny_model.hpp"

namespace llmos::http {
namespace {

using nlohmann::json;
using testing::Connection;

std::string write_template(const std::string& name, const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()) + ".jinja")).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

struct Served {
  explicit Served(const std::string& template_file) : backend(options()) {
    LoadParams p{testing::tiny_model_path(), "tiny", 128};
    p.chat_template_file = template_file;
    load = backend.load_model_and_wait(p);
  }
  static LocalBackendOptions options() {
    LocalBackendOptions bo;
    bo.threads = 1;
    bo.max_seqs = 2;
    return bo;
  }
  uint16_t start() {
    HttpServerOptions so;
    so.port = 0;
    auto s = HttpServer::start(backend, so);
    REQUIRE(s.ok());
    server = std::move(*s);
    return server->port();
  }
  LocalBackend backend;
  Status load;
  std::unique_ptr<HttpServer> server;
};

TEST_CASE("a ChatML template file renders /apply-template and the chat prompt") {
  const std::string file = write_template(
      "chatml", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
  Served s(file);
  REQUIRE_MESSAGE(s.load.ok(), s.load.to_string());
  auto info = s.backend.prompt_info("tiny");
  REQUIRE(info.ok());
  REQUIRE(info->chat != nullptr);
  CHECK(info->chat_template_error.empty());
  const uint16_t port = s.start();
  const json msgs = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}};
  const auto r = Connection(port).post("/apply-template", json{{"messages", msgs}});
  REQUIRE(r.status == 200);
  CHECK(r.js()["prompt"] == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                            "<|im_start|>assistant\n");
  const auto chat = Connection(port).post(
      "/v1/chat/completions", json{{"model", "tiny"}, {"messages", msgs}, {"max_tokens", 3}, {"temperature", 0}});
  CHECK(chat.status == 200);
  // The prompt is the rendering, tokenized (BOS first, as the vocabulary asks).
  CHECK(chat.js()["usage"]["prompt_tokens"].get<int>() > 10);
  std::filesystem::remove(file);
}

TEST_CASE("chat_prompt_ids: the prompt a chat request gets, sent as ids to /v1/completions") {
  const std::string source =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const std::string file = write_template("chatml-ids", source);
  Served s(file);
  REQUIRE_MESSAGE(s.load.ok(), s.load.to_string());
  const uint16_t port = s.start();
  const json msgs = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}};
  auto text = load_model_text(testing::tiny_model_path(), file);
  REQUIRE(text.ok());
  auto ids = chat_prompt_ids(**text, nlohmann::ordered_json(msgs), 0);
  REQUIRE_MESSAGE(ids.ok(), ids.status().to_string());
  // The same template given as text renders the same ids.
  auto same = load_model_text_with_template(testing::tiny_model_path(), source, "test template");
  REQUIRE(same.ok());
  CHECK(chat_prompt_ids(**same, nlohmann::ordered_json(msgs), 0).value() == *ids);

  const auto chat = Connection(port).post(
      "/v1/chat/completions", json{{"model", "tiny"}, {"messages", msgs}, {"max_tokens", 6}, {"temperature", 0}});
  REQUIRE(chat.status == 200);
  const auto plain = Connection(port).post(
      "/v1/completions", json{{"model", "tiny"}, {"prompt", *ids}, {"max_tokens", 6}, {"temperature", 0}});
  REQUIRE(plain.status == 200);
  CHECK(chat.js()["usage"]["prompt_tokens"] == ids->size());
  CHECK(plain.js()["usage"]["prompt_tokens"] == ids->size());
  CHECK(chat.js()["choices"][0]["message"]["content"] == plain.js()["choices"][0]["text"]);

  // No template, or one that cannot be rendered: an error naming it.
  auto none = load_model_text_with_template(testing::tiny_model_path(), "", "test template");
  REQUIRE(none.ok());
  CHECK(chat_prompt_ids(**none, nlohmann::ordered_json(msgs), 0).status().code() == ErrorCode::kNotFound);
  auto broken = load_model_text_with_template(testing::tiny_model_path(), "{% if x %}", "chat template file 'b.jinja'");
  REQUIRE(broken.ok());
  const Status st = chat_prompt_ids(**broken, nlohmann::ordered_json(msgs), 0).status();
  CHECK(st.message().find("chat template file 'b.jinja' cannot be rendered") != std::string::npos);
  CHECK(st.message().find("template line 1") != std::string::npos);
  std::filesystem::remove(file);
}

TEST_CASE("a template that cannot be rendered is reported at load; completions still work") {
  const std::string file = write_template("broken", "ok\n{% for m in messages %}{{ m.content | nosuch }}{% endfor %}");
  Served s(file);
  REQUIRE_MESSAGE(s.load.ok(), s.load.to_string());
  auto info = s.backend.prompt_info("tiny");
  REQUIRE(info.ok());
  CHECK(info->chat == nullptr);
  CHECK(info->chat_template_error == "the model's chat template file '" + file +
                                         "' cannot be rendered: unknown filter 'nosuch' (template line 2)");
  const uint16_t port = s.start();
  const json msgs = {{{"role", "user"}, {"content", "Hi"}}};
  auto r = Connection(port).post("/apply-template", json{{"messages", msgs}});
  CHECK(r.status == 400);
  CHECK(r.js()["error"]["message"] == info->chat_template_error);
  r = Connection(port).post("/v1/chat/completions", json{{"model", "tiny"}, {"messages", msgs}, {"max_tokens", 2}});
  CHECK(r.status >= 400);
  r = Connection(port).post("/v1/completions", json{{"model", "tiny"}, {"prompt", "Hi"}, {"max_tokens", 2}});
  CHECK(r.status == 200);
  std::filesystem::remove(file);
}

TEST_CASE("an unreadable template file fails the load naming it") {
  Served s("/nonexistent/chat.jinja");
  REQUIRE_FALSE(s.load.ok());
  CHECK(s.load.message().find("cannot read chat template file '/nonexistent/chat.jinja'") != std::string::npos);
}

}  // namespace
}  // namespace llmos::http
