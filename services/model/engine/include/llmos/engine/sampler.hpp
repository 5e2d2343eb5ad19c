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
#include "llmos/domain/sampling.hpp"

namespace llmos::engine {

class Sampler {
 public:
  // REQUIRES: validate_sampling(params).ok(), n_vocab > 0.
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
