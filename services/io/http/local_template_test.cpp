// --chat-template-file on the real engine (LocalBackend, synthetic model): the
// file's template renders /apply-template and chat prompts; a template that
// cannot be rendered is reported at load and fails chat, while completions work;
// an unreadable file fails the load naming it.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "chat_template.hpp"
#include "llmos/http/http_server.hpp"
#include "llmos/http/local_backend.hpp"
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
