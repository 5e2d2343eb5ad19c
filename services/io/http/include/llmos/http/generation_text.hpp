// GenerationText: what a client sees of one generation's tokens: text in whole
// UTF-8 characters (tokenizer::StreamDecoder), cut before the first stop string
// (StopMatcher), as GenerationEvents with their usage. The one delivery used by
// the in-process backend (ModelRunner) and by llmos-io's HTTP streams.
// One per generation; not thread-safe. Borrows the tokenizer.
#pragma once
#include <string>
#include <vector>

#include "llmos/http/generation_backend.hpp"
#include "llmos/http/stop_matcher.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::http {

class GenerationText {
 public:
  // REQUIRES: `tokenizer` outlives this.
  GenerationText(const tokenizer::Tokenizer& tokenizer, std::vector<std::string> stops, int prompt_tokens);

  // The event of the next generated token: its new text (possibly empty). When
  // it completes a stop string the event is the last one (done, kStop) and the
  // caller should cancel the rest of the generation. REQUIRES: !ended().
  GenerationEvent push(int32_t token);
  // The last event of a generation that ended for `reason` (not a stop
  // string): the text held back, or, for kError, no text and `error`.
  // REQUIRES: !ended().
  GenerationEvent finish(FinishReason reason, Status error = {});

  bool ended() const { return ended_; }
  Usage usage() const { return Usage{prompt_tokens_, completion_tokens_}; }

 private:
  tokenizer::StreamDecoder decoder_;
  StopMatcher stops_;
  int prompt_tokens_ = 0;
  int completion_tokens_ = 0;
  bool ended_ = false;
};

}  // namespace llmos::http
