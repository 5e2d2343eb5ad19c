#include "chat_conversation.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "chat_saves.hpp"
#include "llmos/client/client.hpp"
#include "llmos/http/model_text.hpp"
#include "llmos/jinja/template.hpp"
#include "llmos/model/model_store.hpp"

namespace llmos::shell {

using nlohmann::json;

Result<std::string> model_file(const std::filesystem::path& runtime_dir, const std::string& model_name) {
  if (auto kernel = client::KernelClient::connect(runtime_dir); kernel.ok()) {
    LLMOS_ASSIGN_OR_RETURN(auto models, kernel->models());
    for (const auto& m : models) {
      if (m.name == model_name || m.name == model_name + ":latest") return m.path;
    }
  }
  auto name = model::parse_model_name(model_name);
  auto dir = model::resolve_models_dir(std::nullopt, std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"),
                                       std::getenv("HOME"));
  std::error_code ec;
  if (name.ok() && dir.ok() && std::filesystem::is_directory(*dir + "/manifests", ec)) {
    if (auto store = model::ModelStore::open(*dir); store.ok()) {
      if (auto m = store->find(*name); m.ok()) return store->blob_path(*m);
    }
  }
  return not_found("model '" + model_name + "' is neither loaded nor in the model store (llmos ps, llmos list)");
}

ChatConversation::ChatConversation(std::filesystem::path runtime_dir, std::string base_url, ChatTurnOptions options)
    : runtime_dir_(std::move(runtime_dir)), base_url_(std::move(base_url)), options_(std::move(options)) {}

ChatConversation::~ChatConversation() = default;

Status ChatConversation::use_template(const std::string& file, std::string source) {
  LLMOS_ASSIGN_OR_RETURN(std::string path, model_file(runtime_dir_, options_.model));
  LLMOS_ASSIGN_OR_RETURN(auto text,
                         http::load_model_text_with_template(path, source, "chat template file '" + file + "'"));
  // The template must render now, not at the first turn.
  if (!text->prompt_info.chat_template_error.empty()) return invalid_argument(text->prompt_info.chat_template_error);
  if (!text->prompt_info.chat) return invalid_argument("chat template file '" + file + "' is empty");
  text_ = std::move(text);
  template_file_ = file;
  template_source_ = std::move(source);
  return ok_status();
}

Status ChatConversation::use_template_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return not_found("cannot read chat template file '" + file + "'");
  std::ostringstream source;
  source << in.rdbuf();
  return use_template(file, source.str());
}

Result<std::string> ChatConversation::turn(const std::string& line,
                                           const std::function<void(std::string_view)>& on_text,
                                           const std::atomic<bool>* cancel) {
  json messages = history_;
  messages.push_back({{"role", "user"}, {"content", line}});
  Result<std::string> reply = std::string();
  if (text_) {
    // The prompt llmos-io would build for a model loaded with this template,
    // from messages as it hands them over (role, then content).
    nlohmann::ordered_json input = nlohmann::ordered_json::array();
    for (const auto& m : messages) {
      input.push_back({{"role", m["role"].get<std::string>()}, {"content", m["content"].get<std::string>()}});
    }
    LLMOS_ASSIGN_OR_RETURN(auto ids, http::chat_prompt_ids(*text_, input, jinja::template_clock_now()));
    reply = completion_turn(base_url_, options_, ids, on_text, cancel);
  } else {
    reply = chat_turn(base_url_, options_, messages, on_text, cancel);
  }
  if (!reply.ok()) return reply.status();
  messages.push_back({{"role", "assistant"}, {"content", *reply}});
  history_ = std::move(messages);
  return reply;
}

Status ChatConversation::save(const std::string& name) const {
  SavedChat chat;
  chat.model = options_.model;
  chat.template_file = template_file_;
  chat.template_source = template_source_;
  chat.messages = history_;
  return save_chat(runtime_dir_, name, chat);
}

Result<std::string> ChatConversation::restore(const std::string& name) {
  LLMOS_ASSIGN_OR_RETURN(SavedChat chat, load_chat(runtime_dir_, name));
  if (!chat.template_file.empty()) {
    // The text it was rendered with, even if the file has changed since.
    LLMOS_RETURN_IF_ERROR(use_template(chat.template_file, std::move(chat.template_source)));
  } else {
    text_.reset();
    template_file_.clear();
    template_source_.clear();
  }
  history_ = std::move(chat.messages);
  std::string said = "continuing chat '" + name + "' (" + std::to_string(history_.size()) + " messages, " +
                     (template_file_.empty() ? std::string("the model's chat template")
                                             : "chat template file '" + template_file_ + "'") +
                     ")";
  if (chat.model != options_.model) said += "; it was saved with model '" + chat.model + "'";
  return said;
}

}  // namespace llmos::shell
