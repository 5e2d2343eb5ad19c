#include "line_editor.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "shell.hpp"

namespace llmos::shell {
namespace {

EditState::Outcome type(EditState& s, const std::string& keys, const Completer& c = {}) {
  KeyDecoder d;
  EditState::Outcome last = EditState::Outcome::kEditing;
  for (char ch : keys) {
    if (auto k = d.feed(ch)) last = s.apply(*k, c);
  }
  return last;
}

TEST_CASE("editing keys move the cursor and change the line") {
  EditState s;
  type(s, "helo");
  type(s, "\x1b[D");  // left
  type(s, "l");
  CHECK(s.line() == "hello");
  type(s, "\x01");  // Ctrl-A
  CHECK(s.cursor() == 0);
  type(s, "> ");
  type(s, "\x05 world");  // Ctrl-E
  CHECK(s.line() == "> hello world");
  type(s, "\x17");  // Ctrl-W kills a word
  CHECK(s.line() == "> hello ");
  type(s, "\x7f\x7f");
  CHECK(s.line() == "> hell");
  type(s, "\x1b[H\x1b[3~");  // Home, Delete
  CHECK(s.line() == " hell");
  CHECK(type(s, "\r") == EditState::Outcome::kAccepted);
}

TEST_CASE("history browses older lines and comes back to the edited one") {
  std::vector<std::string> history = {"ps", "load x.gguf"};
  EditState s(&history);
  type(s, "gen");
  type(s, "\x1b[A");
  CHECK(s.line() == "load x.gguf");
  type(s, "\x1b[A\x1b[A");
  CHECK(s.line() == "ps");
  type(s, "\x1b[B\x1b[B");
  CHECK(s.line() == "gen");
}

TEST_CASE("Tab completes a unique candidate, or the common prefix and lists them") {
  Completer c = [](const std::string& before) -> std::vector<std::string> {
    if (before == "gen") return {"generate"};
    if (before == "generate s") return {"stories", "story"};
    return {};
  };
  EditState s;
  type(s, "gen\t", c);
  CHECK(s.line() == "generate ");
  type(s, "s\t", c);
  CHECK(s.line() == "generate stor");
  CHECK(s.listing() == std::vector<std::string>{"stories", "story"});
}

TEST_CASE("Ctrl-C interrupts and Ctrl-D on an empty line ends input") {
  EditState s;
  CHECK(type(s, "abc\x03") == EditState::Outcome::kInterrupted);
  EditState e;
  CHECK(type(e, "\x04") == EditState::Outcome::kEof);
}

TEST_CASE("command lines split into words with quotes and escapes") {
  std::string err;
  CHECK(split_words("generate s 'Once upon a time' -n 4", &err) ==
        std::vector<std::string>{"generate", "s", "Once upon a time", "-n", "4"});
  CHECK(split_words(R"(a "b \"c\"" d\ e)", &err) == std::vector<std::string>{"a", "b \"c\"", "d e"});
  CHECK(err.empty());
  split_words("say 'oops", &err);
  CHECK(err == "unterminated ' quote");
}

}  // namespace
}  // namespace llmos::shell

TEST_CASE("the shell completes the model store's NAME:TAG names for load, run, show, rm and cp") {
  const std::string dir = "/tmp/llmos_shell_store_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/manifests/qwen3");
  std::filesystem::create_directories(dir + "/manifests/other");
  const std::string sha(64, 'a');
  for (const auto& [name, tag] : {std::pair<std::string, std::string>{"qwen3", "0.6b"}, {"other", "latest"}}) {
    std::ofstream(dir + "/manifests/" + name + "/" + tag + ".json")
        << R"({"name":")" << name << R"(","tag":")" << tag << R"(","file":"blobs/sha256-)" << sha
        << R"(","size":1,"sha256":")" << sha << R"(","source":"","created":"","gguf_version":3,"tensor_count":1,)"
        << R"("file_type":0,"hyperparameters":{"architecture":"llama","general_name":"","vocab_size":1,)"
        << R"("embedding_length":1,"block_count":1,"head_count":1,"head_count_kv":1,"head_dim":1,"value_head_dim":1,)"
        << R"("feed_forward_length":1,"context_length":1,"rope_dimension_count":1,"rope_freq_base":1,)"
        << R"("rms_norm_eps":1,"expert_count":0,"expert_used_count":0,"tied_output":false},)"
        << R"("memory":{"weights_bytes":1,"kv_cache_bytes":1}})";
  }
  ::setenv("LLMOS_MODELS", dir.c_str(), 1);
  const llmos::shell::CommandTable commands = {{"run", nullptr}, {"load", nullptr}};
  CHECK(llmos::shell::complete_line(commands, "run q") == std::vector<std::string>{"qwen3:0.6b"});
  CHECK(llmos::shell::complete_line(commands, "show ") == std::vector<std::string>{"other:latest", "qwen3:0.6b"});
  CHECK(llmos::shell::complete_line(commands, "load qwen3:") == std::vector<std::string>{"qwen3:0.6b"});
  ::unsetenv("LLMOS_MODELS");
  std::filesystem::remove_all(dir);
}
