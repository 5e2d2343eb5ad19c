// SamplingParams: how the next token is picked, the one declaration every layer
// uses (engine, kernel, I/O service, HTTP API, client library, wire). Defaults are
// llama.cpp's (and `llmos generate`'s). A plain value: copy freely.
#pragma once
#include <cstdint>

#include "llmos/common/status.hpp"

namespace llmos {

struct SamplingParams {
  float temperature = 0.8f;     // >= 0; 0 = greedy (argmax)
  int top_k = 40;               // >= 0; 0 = off
  float top_p = 0.95f;          // (0, 1]; 1 = off
  float min_p = 0.05f;          // [0, 1]; 0 = off
  float repeat_penalty = 1.0f;  // > 0; 1 = off
  int repeat_last_n = 64;       // >= 0; how many recent tokens the penalty looks at
  uint64_t seed = 0;

  // Greedy: every other field but the repetition penalty is irrelevant.
  bool greedy() const { return temperature <= 0.0f; }
  bool operator==(const SamplingParams&) const = default;
};

// Filtering switched off: what a greedy or "plain" request means when a field is
// not given (the wire's defaults).
SamplingParams unfiltered_sampling();

// invalid_argument naming the first field out of range and its value, e.g.
// "top_p must be in (0, 1], got 1.5".
Status validate_sampling(const SamplingParams& p);

// The same for a token limit: "max_tokens must be at least 1, got 0".
Status validate_max_tokens(int64_t max_tokens);

}  // namespace llmos
