#include "llmos/http/model_text.hpp"

#include <fstream>
#include <sstream>

#include "chat_template.hpp"

namespace llmos::http {

ModelText::ModelText(tokenizer::Tokenizer t, PromptInfo info)
    : tok(std::move(t)), encoder(tok), prompt_info(std::move(info)) {}

Result<std::shared_ptr<const ModelText>> model_text_from_gguf(const gguf::GgufFile& file,
                                                              const std::string& chat_template_file) {
  LLMOS_ASSIGN_OR_RETURN(auto tok, tokenizer::tokenizer_from_gguf(file));
  PromptInfo info;
  std::string template_origin = "tokenizer.chat_template";
  if (!chat_template_file.empty()) {
    std::ifstream in(chat_template_file, std::ios::binary);
    if (!in) return not_found("cannot read chat template file '" + chat_template_file + "'");
    std::ostringstream text;
    text << in.rdbuf();
    info.chat_template = text.str();
    template_origin = "chat template file '" + chat_template_file + "'";
  } else if (file.has("tokenizer.chat_template")) {
    LLMOS_ASSIGN_OR_RETURN(auto tmpl, file.get_string("tokenizer.chat_template"));
    info.chat_template = std::string(tmpl);
  }
  if (tok.bos_id() >= 0) info.bos_text = tok.token_text(tok.bos_id());
  if (tok.eos_id() >= 0) info.eos_text = tok.token_text(tok.eos_id());
  if (!info.chat_template.empty()) {
    auto chat = ChatTemplate::load(info.chat_template, info.bos_text, info.eos_text);
    if (chat.ok()) {
      info.chat = std::move(*chat);
    } else {
      info.chat_template_error = "the model's " + template_origin + " cannot be rendered: " + chat.status().message();
    }
  }
  return std::shared_ptr<const ModelText>(std::make_shared<const ModelText>(std::move(tok), std::move(info)));
}

Result<std::shared_ptr<const ModelText>> load_model_text(const std::string& path,
                                                         const std::string& chat_template_file) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  return model_text_from_gguf(*file, chat_template_file);
}

}  // namespace llmos::http
