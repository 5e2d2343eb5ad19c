// ChatSaves: the conversations `llmos chat` keeps with /save NAME in template
// mode, one JSON file each in <runtime dir>/chats/NAME.json: the model's name,
// the messages (OpenAI shape), and the chat template they were rendered with
// (a --chat-template-file's path and text, or none: the server's template for
// the model). Raw-text sessions (tokens, in llmos-memory) are separate. Plain
// functions over files; a save replaces the file atomically.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::shell {

struct SavedChat {
  std::string model;
  std::string template_file;    // "" = the template the server renders for the model
  std::string template_source;  // the file's text when it was saved (with template_file)
  nlohmann::json messages = nlohmann::json::array();  // [{"role": ..., "content": ...}]
};

// <runtime_dir>/chats
std::filesystem::path chats_dir(const std::filesystem::path& runtime_dir);

// Saves `chat` as NAME (1-64 letters, digits, '.', '_', '-', as session names),
// replacing a save of that name. Errors name the name or the file.
Status save_chat(const std::filesystem::path& runtime_dir, const std::string& name, const SavedChat& chat);
// not_found when there is no save NAME; invalid_argument naming the file and
// the field when the file is not a saved chat.
Result<SavedChat> load_chat(const std::filesystem::path& runtime_dir, const std::string& name);
// The saved chats' names, sorted (none when the folder does not exist).
std::vector<std::string> list_chats(const std::filesystem::path& runtime_dir);

// The file's text as a SavedChat; `shown` names it in errors.
Result<SavedChat> parse_saved_chat(std::string_view text, const std::string& shown);
std::string saved_chat_json(const SavedChat& chat);

}  // namespace llmos::shell
