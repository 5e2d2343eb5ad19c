// ModelText: everything that turns a model's text into tokens and back — its
// tokenizer, the prompt encoder over it, and the prompt facts (chat template,
// BOS/EOS texts) — read once from its GGUF file. Immutable once built; share
// the shared_ptr across threads freely.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
// The same with the chat template given as its text; `origin` names it in the
// error of one that cannot be rendered ("chat template file 'chatml.jinja'").
Result<std::shared_ptr<const ModelText>> load_model_text_with_template(const std::string& path,
                                                                       std::string chat_template,
                                                                       const std::string& origin);

// A conversation's prompt ids exactly as /v1/chat/completions builds them for a
// model with this text: `messages` (OpenAI chat shape, string content) through
// its chat template with the generation prompt, the template's control-token
// texts parsed, message content ordinary text, BOS once when the vocabulary
// wants it. Errors: the template's load error, not_found when there is no
// template, or what rendering this conversation raised. now_unix: strftime_now's clock.
Result<std::vector<int32_t>> chat_prompt_ids(const ModelText& text, const nlohmann::ordered_json& messages,
                                             int64_t now_unix);

}  // namespace llmos::http
