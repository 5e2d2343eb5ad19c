// Chat templates against llama.cpp: every template in golden/chat-templates,
// rendered with the context each case documents, must give llama.cpp's prompt
// byte for byte. Templates we do not render are listed in kSkipped with the
// reason and reported as skipped by name. Skipped (exit 77, from
// llmos_golden_main) without ../shared.
#include <doctest/doctest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chat_template.hpp"
#include "llmos/jinja/template.hpp"
#include "shared_dir.hpp"

namespace llmos {
namespace {

using Json = nlohmann::ordered_json;

// The template source of a golden file, with llama.cpp's patches applied.
std::string template_source(const std::string& dir, const Json& golden);

// Templates not checked, with the reason (printed at every run).
const std::map<std::string, std::string> kSkipped = {};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int64_t parse_utc(const std::string& iso) {  // "2025-06-15T12:00:00Z"
  std::tm tm{};
  REQUIRE_MESSAGE(sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                         &tm.tm_min, &tm.tm_sec) == 6,
                  "bad time " << iso);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// The first byte where two strings differ, with some context, for a failure message.
std::string first_difference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  Json w = want.substr(from, 120), g = got.substr(from, 120);
  return "at byte " + std::to_string(i) + "\n  want: " + w.dump() + "\n  got:  " + g.dump();
}

std::string template_source(const std::string& dir, const Json& golden) {
  std::string source = read_file(dir + "/" + golden["template_file"].get<std::string>());
  for (const auto& patch : golden["template_source_patches"]) {
    const std::string find = patch["find"], with = patch["replace_with"];
    for (size_t p = source.find(find); p != std::string::npos; p = source.find(find, p + with.size())) {
      source.replace(p, find.size(), with);
    }
  }
  return source;
}

std::vector<std::string> golden_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST_CASE("every chat template renders every conversation exactly as llama.cpp") {
  const std::string dir = testing::shared_dir() + "/golden/chat-templates";
  const std::vector<std::string> files = golden_files(dir);
  REQUIRE(files.size() >= 70);
  int checked = 0;
  std::vector<std::string> failures;
  for (const std::string& path : files) {
    const std::string name = std::filesystem::path(path).stem().string();
    if (auto s = kSkipped.find(name); s != kSkipped.end()) {
      MESSAGE("SKIPPED " << name << ": " << s->second);
      continue;
    }
    const Json golden = Json::parse(read_file(path));
    const std::string source = template_source(dir, golden);
    auto tmpl = jinja::Template::parse(source);
    if (!tmpl.ok()) {
      failures.push_back(name + ": " + tmpl.status().to_string());
      continue;
    }
    jinja::RenderOptions options;
    options.now_unix_seconds = parse_utc(golden["now"].get<std::string>());
    for (const auto& c : golden["cases"]) {
      Json vars = golden["context"];
      vars["messages"] = c.contains("template_messages") ? c["template_messages"] : c["messages"];
      vars["bos_token"] = golden["bos_token"];
      vars["eos_token"] = golden["eos_token"];
      vars["add_generation_prompt"] = c["add_generation_prompt"];
      auto out = tmpl->render(vars, options);
      const std::string where = name + " / " + c["name"].get<std::string>();
      if (!out.ok()) {
        failures.push_back(where + ": " + out.status().to_string());
      } else if (*out != c["prompt"].get<std::string>()) {
        failures.push_back(where + ": differs " + first_difference(c["prompt"], *out));
      } else {
        ++checked;
      }
    }
  }
  for (const auto& f : failures) MESSAGE(f);
  MESSAGE(checked << " cases equal, " << failures.size() << " failing, " << kSkipped.size() << " templates skipped");
  CHECK(failures.empty());
}

// The request path: from the request's messages, the server's ChatTemplate
// rebuilds the template's messages as llama.cpp did (template_messages when the
// file has them), fills the context (enable_thinking decided from the template)
// and renders the prompt.
TEST_CASE("request messages become the template's messages and prompt as in llama.cpp") {
  const std::string dir = testing::shared_dir() + "/golden/chat-templates";
  std::vector<std::string> failures;
  std::vector<std::string> thinking_differs;
  int checked = 0;
  for (const std::string& path : golden_files(dir)) {
    const std::string name = std::filesystem::path(path).stem().string();
    if (kSkipped.count(name)) continue;
    const Json golden = Json::parse(read_file(path));
    auto chat = http::ChatTemplate::load(template_source(dir, golden), golden["bos_token"], golden["eos_token"]);
    if (!chat.ok()) {
      failures.push_back(name + ": " + chat.status().to_string());
      continue;
    }
    // enable_thinking matters only to templates that read it.
    const bool llama_thinking = golden["context"]["enable_thinking"].get<bool>();
    const bool reads_it = template_source(dir, golden).find("enable_thinking") != std::string::npos;
    if (reads_it && (*chat)->supports_thinking() != llama_thinking) thinking_differs.push_back(name);
    for (const auto& c : golden["cases"]) {
      const std::string where = name + " / " + c["name"].get<std::string>();
      const Json want_messages = c.contains("template_messages") ? c["template_messages"] : c["messages"];
      const Json got_messages = (*chat)->template_messages(c["messages"]);
      if (got_messages != want_messages) {
        failures.push_back(where + ": template messages " + got_messages.dump() + " != " + want_messages.dump());
        continue;
      }
      http::ChatTemplateInput input;
      input.messages = c["messages"];
      auto out = (*chat)->apply(input, parse_utc(golden["now"].get<std::string>()));
      if (!out.ok()) {
        failures.push_back(where + ": " + out.status().to_string());
      } else if (*out != c["prompt"].get<std::string>()) {
        failures.push_back(where + ": differs " + first_difference(c["prompt"], *out));
      } else if (auto pieces = (*chat)->apply_pieces(input, parse_utc(golden["now"].get<std::string>()));
                 !pieces.ok() || http::join_pieces(*pieces) != *out) {
        // The prompt split into template text and message content is the same prompt.
        failures.push_back(where + ": the prompt as pieces differs");
      } else {
        ++checked;
      }
    }
  }
  for (const auto& f : failures) MESSAGE(f);
  std::string differs;
  for (const auto& n : thinking_differs) differs += " " + n;
  MESSAGE(checked << " cases equal from the request messages");
  CHECK_MESSAGE(thinking_differs.empty(), "enable_thinking decided unlike llama.cpp for:" << differs);
  CHECK(failures.empty());
}

}  // namespace
}  // namespace llmos
