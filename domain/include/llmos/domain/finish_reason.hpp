// FinishReason: why a generation ended, the one declaration every layer uses.
// Names are llmos's own ("context", "preempted"); the HTTP API maps them to
// OpenAI's in its own module. A plain enum; its functions are thread-safe.
#pragma once
#include <optional>
#include <string_view>

namespace llmos {

enum class FinishReason {
  kNone,       // not finished (an intermediate event)
  kStop,       // an end-of-sequence token, a stop id or a stop string
  kLength,     // the request's max_tokens
  kContext,    // the sequence filled the model's context first
  kCancelled,  // the client cancelled it or went away
  kPreempted,  // taken off its engine for now; it comes back as a resumed request
  kError,      // failed; the event carries the error
};

// "none", "stop", "length", "context", "cancelled", "preempted", "error".
std::string_view finish_reason_name(FinishReason r);
std::optional<FinishReason> parse_finish_reason(std::string_view name);

}  // namespace llmos
