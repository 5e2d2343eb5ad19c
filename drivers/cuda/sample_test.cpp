// Sampling on the device against the engine's host Sampler fed the same
// uniform draw (mt19937_64 with the request's seed, as Sampler draws it):
// greedy with ties, top-k with ties at the k-th logit, top-p, min-p and
// temperature, vocabularies smaller than k. A device pick may differ only
// where the draw falls within 1e-5 of a cumulative-probability boundary.
#include <doctest/doctest.h>

#include <numeric>
#include <random>

#include "cuda_test_util.hpp"
#include "llmos/engine/sampler.hpp"

namespace llmos::cuda::testing {
namespace {

using driver::DeviceSampleRow;

double draw(uint64_t seed) {  // Sampler::next_uniform's first value for `seed`
  std::mt19937_64 rng(seed);
  return double(rng() >> 11) * (1.0 / 9007199254740992.0);
}

// The cumulative probabilities the host Sampler walks for these settings
// (so a test can tell a boundary case from a real disagreement).
std::vector<double> host_cumulative(std::vector<float> logits, const SamplingParams& p) {
  const int n_vocab = int(logits.size());
  std::vector<int> ids(static_cast<size_t>(n_vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int a, int b) {
    return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
  });
  int n = p.top_k > 0 ? std::min(p.top_k, n_vocab) : n_vocab;
  auto softmax = [&](int count, float inv_temp) {
    std::vector<double> pr(static_cast<size_t>(count));
    double sum = 0;
    for (int i = 0; i < count; ++i)
      sum += pr[size_t(i)] = std::exp((logits[size_t(ids[size_t(i)])] - logits[size_t(ids[0])]) * inv_temp);
    for (auto& x : pr) x /= sum;
    return pr;
  };
  auto pr = softmax(n, 1.0f);
  if (p.top_p < 1.0f) {
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      cum += pr[size_t(i)];
      if (cum >= p.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    int keep = 1;
    while (keep < n && pr[size_t(keep)] >= p.min_p * pr[0]) ++keep;
    n = keep;
  }
  pr = softmax(n, 1.0f / p.temperature);
  std::vector<double> cum(static_cast<size_t>(n));
  double c = 0;
  for (int i = 0; i < n; ++i) cum[size_t(i)] = c += pr[size_t(i)];
  return cum;
}

void check_rows(Driver& gpu_driver, int n_vocab, const SamplingParams& p, uint32_t seed, bool with_ties) {
  CAPTURE(n_vocab);
  CAPTURE(p.top_k);
  CAPTURE(p.temperature);
  const int n_rows = 6;
  auto logits = random_floats(size_t(n_rows * n_vocab), seed, 3.0f);
  if (with_ties) {
    for (auto& x : logits) x = std::round(x * 2.0f) / 2.0f;  // few distinct values: ties everywhere
  }
  Driver* gpu = &gpu_driver;
  auto* cuda = driver::as_cuda_driver(*gpu);
  REQUIRE(cuda != nullptr);
  auto dl = to_device(*gpu, logits);
  std::vector<DeviceSampleRow> rows(static_cast<size_t>(n_rows));
  std::vector<uint64_t> seeds(static_cast<size_t>(n_rows));
  for (int r = 0; r < n_rows; ++r) {
    seeds[size_t(r)] = seed * 1000 + uint64_t(r);
    rows[size_t(r)] = DeviceSampleRow{p.temperature, p.top_k, p.top_p, p.min_p, draw(seeds[size_t(r)])};
  }
  std::vector<int32_t> got(size_t(n_rows), -1);
  const Status st = cuda->sample(dl.ptr(), n_rows, n_vocab, rows, got.data());
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  for (int r = 0; r < n_rows; ++r) {
    SamplingParams sp = p;
    sp.seed = seeds[size_t(r)];
    sp.repeat_penalty = 1.0f;
    engine::Sampler sampler(sp, n_vocab);
    std::vector<float> row(logits.begin() + r * n_vocab, logits.begin() + (r + 1) * n_vocab);
    const int32_t want = sampler.sample(row, {});
    if (got[size_t(r)] == want) continue;
    // Only acceptable at a boundary of the cumulative distribution.
    const double u = rows[size_t(r)].uniform;
    bool near_boundary = false;
    for (double c : host_cumulative(std::vector<float>(logits.begin() + r * n_vocab, logits.begin() + (r + 1) * n_vocab), sp))
      near_boundary |= std::fabs(c - u) < 1e-5;
    CHECK_MESSAGE(near_boundary, "row " << r << ": device picked " << got[size_t(r)] << ", host Sampler " << want);
  }
}

TEST_CASE("greedy picks the first maximum, like the host Sampler") {
  SamplingParams p;
  p.temperature = 0.0f;
  auto gpu = make_gpu();
  for (int n_vocab : {1, 7, 1000, 32000, 128256}) {
    check_rows(*gpu, n_vocab, p, uint32_t(n_vocab), false);
    check_rows(*gpu, n_vocab, p, uint32_t(n_vocab) + 1, true);
  }
}

TEST_CASE("top-k / top-p / min-p / temperature draws match the host Sampler") {
  uint32_t seed = 10;
  auto gpu = make_gpu();
  struct Case { int top_k; float top_p, min_p, temperature; };
  for (Case c : {Case{1, 1.0f, 0.0f, 0.8f}, Case{5, 1.0f, 0.0f, 1.0f}, Case{40, 0.95f, 0.05f, 0.8f},
                 Case{40, 1.0f, 0.0f, 1.5f}, Case{1024, 0.9f, 0.0f, 0.7f}, Case{200, 0.5f, 0.1f, 0.3f}}) {
    SamplingParams p;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.temperature = c.temperature;
    for (int n_vocab : {50, 1000, 32000}) {
      check_rows(*gpu, n_vocab, p, seed++, false);
      check_rows(*gpu, n_vocab, p, seed++, true);
    }
  }
}

TEST_CASE("device sampling refuses what it cannot do") {
  auto gpu = make_gpu();
  auto* cuda = driver::as_cuda_driver(*gpu);
  auto dl = to_device(*gpu, std::vector<float>(100, 0.0f));
  int32_t out = -1;
  DeviceSampleRow all_vocab{0.8f, 0, 1.0f, 0.0f, 0.5};
  Status st = cuda->sample(dl.ptr(), 1, 100, {&all_vocab, 1}, &out);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message().find("top_k 0") != std::string::npos);
  DeviceSampleRow bad_u{0.8f, 10, 1.0f, 0.0f, 1.0};
  CHECK(cuda->sample(dl.ptr(), 1, 100, {&bad_u, 1}, &out).code() == ErrorCode::kInvalidArgument);
  CHECK(cuda->sample(dl.ptr(), 2, 100, {&bad_u, 1}, &out).code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmos::cuda::testing
