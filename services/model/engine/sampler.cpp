#include "llmos/engine/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace llmos::engine {

Sampler::Sampler(const SamplingParams& params, int n_vocab)
    : params_(params), rng_(params.seed), candidates_(size_t(n_vocab)) {
  LLMOS_REQUIRE(n_vocab > 0, "empty vocabulary");
}

void Sampler::skip(uint64_t n) {
  if (params_.temperature > 0.0f) rng_.discard(n);
}

double Sampler::next_uniform() { return double(rng_() >> 11) * (1.0 / 9007199254740992.0); }

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  const int n_vocab = int(logits.size());
  if (params_.repeat_penalty != 1.0f && params_.repeat_last_n > 0) {
    // Each distinct recent token is penalised once: positive logits shrink,
    // negative ones grow more negative.
    const size_t n = std::min(history.size(), size_t(params_.repeat_last_n));
    for (size_t i = history.size() - n; i < history.size(); ++i) {
      const int32_t t = history[i];
      if (t < 0 || t >= n_vocab) continue;
      bool seen = false;
      for (size_t j = history.size() - n; j < i; ++j) seen |= history[j] == t;
      if (seen) continue;
      float& l = logits[size_t(t)];
      l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
  }

  if (params_.temperature <= 0.0f) {
    int32_t best = 0;
    for (int i = 1; i < n_vocab; ++i) {
      if (logits[size_t(i)] > logits[size_t(best)]) best = i;
    }
    return best;
  }

  candidates_.resize(size_t(n_vocab));
  for (int i = 0; i < n_vocab; ++i) candidates_[size_t(i)] = {i, logits[size_t(i)], 0.0f};
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = candidates_.size();
  if (params_.top_k > 0 && size_t(params_.top_k) < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + params_.top_k, candidates_.end(), by_logit);
    n = size_t(params_.top_k);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }

  // Probabilities at temperature 1 decide the top-p and min-p cuts.
  auto softmax = [&](size_t count, float inv_temp) {
    const float max_l = candidates_[0].logit;
    double sum = 0.0;
    for (size_t i = 0; i < count; ++i) {
      candidates_[i].p = std::exp((candidates_[i].logit - max_l) * inv_temp);
      sum += candidates_[i].p;
    }
    for (size_t i = 0; i < count; ++i) candidates_[i].p = float(candidates_[i].p / sum);
  };
  softmax(n, 1.0f);
  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cum += candidates_[i].p;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (params_.min_p > 0.0f) {
    const float cut = params_.min_p * candidates_[0].p;
    size_t keep = 1;
    while (keep < n && candidates_[keep].p >= cut) ++keep;
    n = keep;
  }

  softmax(n, 1.0f / params_.temperature);
  const double r = next_uniform();
  double cum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cum += candidates_[i].p;
    if (r < cum) return candidates_[i].id;
  }
  return candidates_[n - 1].id;
}

}  // namespace llmos::engine
