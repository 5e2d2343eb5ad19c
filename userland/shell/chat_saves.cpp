#include "chat_saves.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace llmos::shell {
namespace {

using nlohmann::json;

constexpr int kFormat = 1;

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

Status check_name(const std::string& name) {
  if (valid_name(name) && name != "." && name != "..") return ok_status();
  return invalid_argument("chat name '" + name + "' must be 1-64 characters of letters, digits, '.', '_' or '-'");
}

std::filesystem::path chat_path(const std::filesystem::path& runtime_dir, const std::string& name) {
  return chats_dir(runtime_dir) / (name + ".json");
}

}  // namespace

std::filesystem::path chats_dir(const std::filesystem::path& runtime_dir) { return runtime_dir / "chats"; }

std::string saved_chat_json(const SavedChat& chat) {
  json j = {{"llmos_chat", kFormat}, {"model", chat.model}, {"messages", chat.messages}};
  j["template"] = chat.template_file.empty()
                      ? json(nullptr)
                      : json{{"file", chat.template_file}, {"source", chat.template_source}};
  return j.dump(2) + "\n";
}

Result<SavedChat> parse_saved_chat(std::string_view text, const std::string& shown) {
  auto bad = [&](const std::string& what) { return invalid_argument(shown + ": not a saved chat: " + what); };
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return bad("invalid JSON");
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("llmos_chat") || !j["llmos_chat"].is_number_integer()) return bad("no 'llmos_chat' format number");
  if (j["llmos_chat"].get<int64_t>() != kFormat) {
    return bad("format " + j["llmos_chat"].dump() + " (this llmos reads format " + std::to_string(kFormat) + ")");
  }
  SavedChat chat;
  if (!j.contains("model") || !j["model"].is_string()) return bad("'model' is not a string");
  chat.model = j["model"].get<std::string>();
  if (!j.contains("messages") || !j["messages"].is_array()) return bad("'messages' is not an array");
  for (size_t i = 0; i < j["messages"].size(); ++i) {
    const json& m = j["messages"][i];
    const std::string where = "'messages[" + std::to_string(i) + "]'";
    if (!m.is_object()) return bad(where + " is not an object");
    for (const char* key : {"role", "content"}) {
      if (!m.contains(key) || !m[key].is_string()) return bad(where + "." + key + " is not a string");
    }
    chat.messages.push_back({{"role", m["role"]}, {"content", m["content"]}});
  }
  if (j.contains("template") && !j["template"].is_null()) {
    const json& t = j["template"];
    if (!t.is_object()) return bad("'template' is neither null nor an object");
    if (!t.contains("file") || !t["file"].is_string() || t["file"].get<std::string>().empty()) {
      return bad("'template.file' is not a file name");
    }
    if (!t.contains("source") || !t["source"].is_string()) return bad("'template.source' is not a string");
    chat.template_file = t["file"].get<std::string>();
    chat.template_source = t["source"].get<std::string>();
  }
  return chat;
}

Status save_chat(const std::filesystem::path& runtime_dir, const std::string& name, const SavedChat& chat) {
  if (Status st = check_name(name); !st.ok()) return st;
  std::error_code ec;
  std::filesystem::create_directories(chats_dir(runtime_dir), ec);
  if (ec) return failed(chats_dir(runtime_dir).string() + ": cannot create the folder: " + ec.message());
  const std::filesystem::path path = chat_path(runtime_dir, name);
  const std::filesystem::path temp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << saved_chat_json(chat);
    out.flush();
    if (!out) {
      const int err = errno;
      std::filesystem::remove(temp, ec);
      return failed(temp.string() + ": cannot write: " + std::strerror(err));
    }
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return failed(path.string() + ": cannot save: " + ec.message());
  }
  return ok_status();
}

Result<SavedChat> load_chat(const std::filesystem::path& runtime_dir, const std::string& name) {
  if (Status st = check_name(name); !st.ok()) return st;
  const std::filesystem::path path = chat_path(runtime_dir, name);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found("no saved chat named '" + name + "' (/chats lists them)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return failed(path.string() + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_saved_chat(text.str(), path.string());
}

std::vector<std::string> list_chats(const std::filesystem::path& runtime_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(chats_dir(runtime_dir), ec)) {
    const std::filesystem::path& p = e.path();
    if (p.extension() != ".json") continue;
    const std::string name = p.stem().string();
    if (valid_name(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace llmos::shell
