#include "chat_saves.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace llmos::shell {
namespace {

using nlohmann::json;

struct TempDir {
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("llmos-chat-saves-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

SavedChat sample(bool with_template) {
  SavedChat c;
  c.model = "stories";
  c.messages = json::array({{{"role", "user"}, {"content", "Once upon a time"}},
                            {{"role", "assistant"}, {"content", " there was <|im_end|> a \"cat\"\n"}}});
  if (with_template) {
    c.template_file = "/tmp/chatml.jinja";
    c.template_source = "{% for m in messages %}{{ m.content }}{% endfor %}\n";
  }
  return c;
}

TEST_CASE("a saved chat reads back as saved: messages, model and template") {
  TempDir d;
  for (bool with_template : {true, false}) {
    const SavedChat c = sample(with_template);
    REQUIRE(save_chat(d.path, "tale", c).ok());
    auto back = load_chat(d.path, "tale");  // the second save replaced the first
    REQUIRE_MESSAGE(back.ok(), back.status().to_string());
    CHECK(back->model == c.model);
    CHECK(back->messages == c.messages);
    CHECK(back->template_file == c.template_file);
    CHECK(back->template_source == c.template_source);
  }
  REQUIRE(save_chat(d.path, "a.b-c_1", sample(false)).ok());
  CHECK(list_chats(d.path) == std::vector<std::string>{"a.b-c_1", "tale"});
  CHECK(std::filesystem::exists(chats_dir(d.path) / "tale.json"));
}

TEST_CASE("chat names and missing saves are clear errors") {
  TempDir d;
  CHECK(list_chats(d.path).empty());
  auto missing = load_chat(d.path, "nope");
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  CHECK(missing.status().message().find("'nope'") != std::string::npos);
  for (const std::string& bad : std::vector<std::string>{"", "../x", "a/b", "..", std::string(65, 'a'), "sp ace"}) {
    const Status st = save_chat(d.path, bad, sample(false));
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(st.message().find("chat name '" + bad + "'") != std::string::npos);
  }
  CHECK(load_chat(d.path, "../x").status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a corrupt saved chat is an error naming the file and the field") {
  struct Case {
    std::string text, needle;
  };
  const json good = json::parse(saved_chat_json(sample(true)));
  auto with = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  auto without = [&](const char* key) {
    json j = good;
    j.erase(key);
    return j.dump();
  };
  const std::vector<Case> cases = {
      {"", "invalid JSON"},
      {"{\"llmos_chat\": 1,", "invalid JSON"},
      {"[1, 2]", "not a JSON object"},
      {without("llmos_chat"), "'llmos_chat'"},
      {with("llmos_chat", 2), "format 2"},
      {with("llmos_chat", "1"), "'llmos_chat'"},
      {without("model"), "'model'"},
      {with("model", 7), "'model'"},
      {without("messages"), "'messages' is not an array"},
      {with("messages", json::array({"hi"})), "'messages[0]' is not an object"},
      {with("messages", json::array({{{"role", "user"}}})), "'messages[0]'.content"},
      {with("messages", json::array({{{"role", 1}, {"content", "x"}}})), "'messages[0]'.role"},
      {with("template", 3), "'template' is neither null nor an object"},
      {with("template", {{"source", "x"}}), "'template.file'"},
      {with("template", {{"file", ""}, {"source", "x"}}), "'template.file'"},
      {with("template", {{"file", "t.jinja"}}), "'template.source'"},
  };
  for (const auto& c : cases) {
    auto r = parse_saved_chat(c.text, "/rt/chats/x.json");
    REQUIRE_FALSE_MESSAGE(r.ok(), c.text);
    CHECK(r.status().code() == ErrorCode::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find("/rt/chats/x.json: not a saved chat") == 0, r.status().message());
    CHECK_MESSAGE(r.status().message().find(c.needle) != std::string::npos, r.status().message());
  }
  // Through the file: the same error, naming it.
  TempDir d;
  std::filesystem::create_directories(chats_dir(d.path));
  std::ofstream(chats_dir(d.path) / "bad.json") << "{not json";
  auto r = load_chat(d.path, "bad");
  CHECK(r.status().message() == (chats_dir(d.path) / "bad.json").string() + ": not a saved chat: invalid JSON");
  // A null template is the server's.
  auto null_template = parse_saved_chat(with("template", nullptr), "x");
  REQUIRE(null_template.ok());
  CHECK(null_template->template_file.empty());
}

}  // namespace
}  // namespace llmos::shell
