#include "llmos/http/model_text.hpp"

namespace llmos::http {

ModelText::ModelText(tokenizer::Tokenizer t, PromptInfo info)
    : tok(std::move(t)), encoder(tok), prompt_info(std::move(info)) {}

Result<std::shared_ptr<const ModelText>> model_text_from_gguf(const gguf::GgufFile& file) {
  LLMOS_ASSIGN_OR_RETURN(auto tok, tokenizer::tokenizer_from_gguf(file));
  PromptInfo info;
  if (file.has("tokenizer.chat_template")) {
    LLMOS_ASSIGN_OR_RETURN(auto tmpl, file.get_string("tokenizer.chat_template"));
    info.chat_template = std::string(tmpl);
  }
  if (tok.bos_id() >= 0) info.bos_text = tok.token_text(tok.bos_id());
  if (tok.eos_id() >= 0) info.eos_text = tok.token_text(tok.eos_id());
  return std::shared_ptr<const ModelText>(std::make_shared<const ModelText>(std::move(tok), std::move(info)));
}

Result<std::shared_ptr<const ModelText>> load_model_text(const std::string& path) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  return model_text_from_gguf(*file);
}

}  // namespace llmos::http
