#include "llmos/domain/sampling.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace llmos {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Status out_of_range(const char* field, const char* range, double value) {
  return invalid_argument(std::string(field) + " must be " + range + ", got " + num(value));
}

}  // namespace

SamplingParams unfiltered_sampling() {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

Status validate_sampling(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) return out_of_range("temperature", ">= 0", p.temperature);
  if (p.top_k < 0) return out_of_range("top_k", ">= 0", p.top_k);
  if (!std::isfinite(p.top_p) || !(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return out_of_range("top_p", "in (0, 1]", p.top_p);
  }
  if (!std::isfinite(p.min_p) || !(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return out_of_range("min_p", "in [0, 1]", p.min_p);
  }
  if (!std::isfinite(p.repeat_penalty) || !(p.repeat_penalty > 0.0f)) {
    return out_of_range("repeat_penalty", "> 0", p.repeat_penalty);
  }
  if (p.repeat_last_n < 0) return out_of_range("repeat_last_n", ">= 0", p.repeat_last_n);
  return ok_status();
}

Status validate_max_tokens(int64_t max_tokens) {
  if (max_tokens < 1) return invalid_argument("max_tokens must be at least 1, got " + std::to_string(max_tokens));
  return ok_status();
}

}  // namespace llmos
