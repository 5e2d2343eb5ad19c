// Token sampling: repetition penalty, then greedy, or top-k -> top-p -> min-p ->
// temperature -> a draw from a seeded generator (same seed, same tokens).
// One Sampler per sequence; it owns its scratch space and random state.
// Not thread-safe; cheap to move.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::engine {

struct SamplingParams {
  float temperature = 0.0f;     // <= 0: greedy (argmax)
  int top_k = 40;               // 0 = off
  float top_p = 0.95f;          // 1 = off
  float min_p = 0.05f;          // 0 = off
  float repeat_penalty = 1.0f;  // 1 = off
  int repeat_last_n = 64;       // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

// invalid_argument naming the offending field when a value is out of range.
Status validate(const SamplingParams& p);

class Sampler {
 public:
  // REQUIRES: validate(params).ok(), n_vocab > 0.
  Sampler(const SamplingParams& params, int n_vocab);

  // Picks the next token from `logits` ([n_vocab], modified in place by the
  // repetition penalty). `history` is the sequence so far (prompt + generated).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

  // Advances the random state past `n` earlier samples, as if they had been
  // drawn here: each sample takes exactly one draw (none when greedy), so the
  // draw for generated token i depends only on the seed and i.
  void skip(uint64_t n);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  double next_uniform();  // [0, 1)

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;  // [n_vocab] scratch
};

}  // namespace llmos::engine
