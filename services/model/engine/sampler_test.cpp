#include "llmos/engine/sampler.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

namespace llmos::engine {
namespace {

std::vector<float> logits_from_probs(const std::vector<float>& p) {
  std::vector<float> l;
  for (float v : p) l.push_back(std::log(v));
  return l;
}

std::map<int32_t, int> histogram(SamplingParams params, const std::vector<float>& logits, int draws) {
  Sampler s(params, int(logits.size()));
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) {
    auto l = logits;
    ++h[s.sample(l, {})];
  }
  return h;
}

TEST_CASE("greedy picks the largest logit, the lowest id on a tie") {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p, 4);
  std::vector<float> l = {0.1f, 2.0f, 2.0f, -1.0f};
  CHECK(s.sample(l, {}) == 1);
}

TEST_CASE("the same seed gives the same tokens; another seed other tokens") {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  auto logits = logits_from_probs({0.2f, 0.2f, 0.2f, 0.2f, 0.2f});
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 5);
    std::vector<int32_t> out;
    for (int i = 0; i < 32; ++i) {
      auto l = logits;
      out.push_back(s.sample(l, {}));
    }
    return out;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));
}

TEST_CASE("draws follow the distribution; top-k, top-p and min-p cut the tail") {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 7;
  auto logits = logits_from_probs({0.5f, 0.3f, 0.15f, 0.05f});
  auto h = histogram(p, logits, 20000);
  CHECK(h[0] / 20000.0 == doctest::Approx(0.5).epsilon(0.05));
  CHECK(h[3] / 20000.0 == doctest::Approx(0.05).epsilon(0.2));

  p.top_k = 2;
  h = histogram(p, logits, 2000);
  CHECK(h.count(2) == 0);
  CHECK(h.count(3) == 0);
  CHECK(h[0] / 2000.0 == doctest::Approx(0.5 / 0.8).epsilon(0.08));

  p.top_k = 0;
  p.top_p = 0.7f;  // 0.5 + 0.3 reaches 0.7: two tokens stay
  h = histogram(p, logits, 2000);
  CHECK(h.size() == 2);

  p.top_p = 1.0f;
  p.min_p = 0.2f;  // keeps p >= 0.1: three tokens
  h = histogram(p, logits, 4000);
  CHECK(h.size() == 3);
}

TEST_CASE("low temperature sharpens, high temperature flattens") {
  SamplingParams p;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 3;
  auto logits = logits_from_probs({0.6f, 0.4f});
  p.temperature = 0.1f;
  CHECK(histogram(p, logits, 2000)[0] > 1900);
  p.temperature = 100.0f;
  CHECK(histogram(p, logits, 4000)[0] / 4000.0 == doctest::Approx(0.5).epsilon(0.1));
}

TEST_CASE("the repetition penalty demotes tokens seen recently") {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 2.0f;
  Sampler s(p, 3);
  std::vector<float> l = {3.0f, 2.0f, -1.0f};
  std::vector<int32_t> hist = {0, 0, 2};
  CHECK(s.sample(l, hist) == 1);  // 3 / 2 = 1.5 < 2
  CHECK(l[0] == doctest::Approx(1.5f));  // penalised once although seen twice
  CHECK(l[2] == doctest::Approx(-2.0f));
}

}  // namespace
}  // namespace llmos::engine

namespace llmos::engine {
namespace {

TEST_CASE("skip(n) continues exactly where n earlier samples left off") {
  SamplingParams p;
  p.temperature = 0.9f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 1234;
  std::vector<float> logits = {0.1f, 0.3f, 0.2f, 0.25f, 0.15f, 0.4f};
  Sampler whole(p, 6);
  std::vector<int32_t> all;
  for (int i = 0; i < 40; ++i) {
    auto l = logits;
    all.push_back(whole.sample(l, all));
  }
  Sampler resumed(p, 6);
  resumed.skip(25);
  std::vector<int32_t> hist(all.begin(), all.begin() + 25);
  for (int i = 25; i < 40; ++i) {
    auto l = logits;
    hist.push_back(resumed.sample(l, hist));
  }
  CHECK(hist == all);
}

}  // namespace
}  // namespace llmos::engine
