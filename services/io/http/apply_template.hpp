// POST /apply-template (as llama.cpp's server has it): the body's messages,
// tools, add_generation_prompt and chat_template_kwargs rendered by the model's
// chat template into {"prompt": ...}, for debugging templates. Pure functions:
// thread-safe.
#pragma once
#include <string>
#include <string_view>

#include "chat_template.hpp"
#include "llmos/common/status.hpp"

namespace llmos::http {

struct ApplyTemplateRequest {
  std::string model;  // "" = the first ready model
  ChatTemplateInput input;
};

// invalid_argument naming the field on a bad body.
Result<ApplyTemplateRequest> parse_apply_template_request(std::string_view body);

// The prompt text for `request` with the model's prompt facts: its template, or
// the plain prompt when it has none; an error when its template cannot be
// rendered (the load error) or this conversation fails in it (raise_exception).
Result<std::string> apply_chat_template(const PromptInfo& info, const ChatTemplateInput& input, int64_t now_unix);

}  // namespace llmos::http
