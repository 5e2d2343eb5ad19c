// ModelText: everything that turns a model's text into tokens and back — its
// tokenizer, the prompt encoder over it, and the prompt facts (chat template,
// BOS/EOS texts) — read once from its GGUF file. Immutable once built; share
// the shared_ptr across threads freely.
#pragma once
#include <memory>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/http/generation_backend.hpp"
#include "llmos/http/prompt_encoder.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::http {

struct ModelText {
  ModelText(tokenizer::Tokenizer t, PromptInfo info);
  ModelText(const ModelText&) = delete;
  ModelText& operator=(const ModelText&) = delete;

  const tokenizer::Tokenizer tok;
  const PromptEncoder encoder;  // borrows `tok`
  const PromptInfo prompt_info;
};

// Errors name the file: a missing/invalid vocabulary, a chat template that is
// not a string, an unreadable chat_template_file. The chat template (the file's,
// or chat_template_file's when given) is parsed here, once: one that cannot be
// rendered leaves prompt_info.chat null and its error in chat_template_error.
Result<std::shared_ptr<const ModelText>> model_text_from_gguf(const gguf::GgufFile& file,
                                                              const std::string& chat_template_file = "");
// Opens `path` and reads its ModelText (the weights are mapped, not read).
Result<std::shared_ptr<const ModelText>> load_model_text(const std::string& path,
                                                         const std::string& chat_template_file = "");

}  // namespace llmos::http
