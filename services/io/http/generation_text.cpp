#include "llmos/http/generation_text.hpp"

namespace llmos::http {

GenerationText::GenerationText(const tokenizer::Tokenizer& tokenizer, std::vector<std::string> stops,
                               int prompt_tokens)
    : decoder_(tokenizer), stops_(std::move(stops)), prompt_tokens_(prompt_tokens) {}

GenerationEvent GenerationText::push(int32_t token) {
  LLMOS_REQUIRE(!ended_, "a token after the end of a generation");
  GenerationEvent ev;
  ev.token = token;
  ++completion_tokens_;
  ev.text = stops_.push(decoder_.push(token));
  if (stops_.stopped()) {
    ended_ = true;
    ev.done = true;
    ev.finish = FinishReason::kStop;
    ev.usage = usage();
  }
  return ev;
}

GenerationEvent GenerationText::finish(FinishReason reason, Status error) {
  LLMOS_REQUIRE(!ended_, "a generation ended twice");
  ended_ = true;
  GenerationEvent ev;
  ev.done = true;
  ev.usage = usage();
  if (reason == FinishReason::kError) {
    ev.finish = FinishReason::kError;
    ev.error = error.ok() ? internal_error("generation failed") : std::move(error);
    return ev;
  }
  ev.text = stops_.push(decoder_.finish());
  ev.text += stops_.flush();
  ev.finish = stops_.stopped() ? FinishReason::kStop : reason;
  return ev;
}

}  // namespace llmos::http
