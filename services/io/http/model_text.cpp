#include "llmos/http/model_text.hpp"

#include <fstream>
#include <sstream>

#include "chat_template.hpp"

namespace llmos::http {

ModelText::ModelText(tokenizer::Tokenizer t, PromptInfo info)
    : tok(std::move(t)), encoder(tok), prompt_info(std::move(info)) {}

namespace {

Result<std::shared_ptr<const ModelText>> model_text_with(const gguf::GgufFile& file, std::string chat_template,
                                                          const std::string& origin) {
  LLMOS_ASSIGN_OR_RETURN(auto tok, tokenizer::tokenizer_from_gguf(file));
  PromptInfo info;
  info.chat_template = std::move(chat_template);
  if (tok.bos_id() >= 0) info.bos_text = tok.token_text(tok.bos_id());
  if (tok.eos_id() >= 0) info.eos_text = tok.token_text(tok.eos_id());
  if (!info.chat_template.empty()) {
    auto chat = ChatTemplate::load(info.chat_template, info.bos_text, info.eos_text);
    if (chat.ok()) {
      info.chat = std::move(*chat);
    } else {
      info.chat_template_error = "the model's " + origin + " cannot be rendered: " + chat.status().message();
    }
  }
  return std::shared_ptr<const ModelText>(std::make_shared<const ModelText>(std::move(tok), std::move(info)));
}

}  // namespace

Result<std::shared_ptr<const ModelText>> model_text_from_gguf(const gguf::GgufFile& file,
                                                              const std::string& chat_template_file) {
  if (!chat_template_file.empty()) {
    std::ifstream in(chat_template_file, std::ios::binary);
    if (!in) return not_found("cannot read chat template file '" + chat_template_file + "'");
    std::ostringstream text;
    text << in.rdbuf();
    return model_text_with(file, text.str(), "chat template file '" + chat_template_file + "'");
  }
  std::string chat_template;
  if (file.has("tokenizer.chat_template")) {
    LLMOS_ASSIGN_OR_RETURN(auto tmpl, file.get_string("tokenizer.chat_template"));
    chat_template = std::string(tmpl);
  }
  return model_text_with(file, std::move(chat_template), "tokenizer.chat_template");
}

Result<std::shared_ptr<const ModelText>> load_model_text(const std::string& path,
                                                         const std::string& chat_template_file) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  return model_text_from_gguf(*file, chat_template_file);
}

Result<std::shared_ptr<const ModelText>> load_model_text_with_template(const std::string& path,
                                                                       std::string chat_template,
                                                                       const std::string& origin) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  return model_text_with(*file, std::move(chat_template), origin);
}

Result<std::vector<int32_t>> chat_prompt_ids(const ModelText& text, const nlohmann::ordered_json& messages,
                                             int64_t now_unix) {
  const PromptInfo& info = text.prompt_info;
  if (!info.chat) {
    if (!info.chat_template_error.empty()) return failed(info.chat_template_error);
    return not_found("the model has no chat template");
  }
  ChatTemplateInput input;
  input.messages = messages;
  LLMOS_ASSIGN_OR_RETURN(auto pieces, info.chat->apply_pieces(input, now_unix));
  return text.encoder.encode(pieces, text.tok.add_bos());
}

}  // namespace llmos::http
