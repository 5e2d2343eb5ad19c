#include "llmos/domain/sampling.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace llmos;

TEST_CASE("the default sampling parameters are valid and llama.cpp's") {
  SamplingParams p;
  CHECK(validate_sampling(p).ok());
  CHECK(p.temperature == doctest::Approx(0.8));
  CHECK(p.top_k == 40);
  CHECK(!p.greedy());
  CHECK(validate_sampling(unfiltered_sampling()).ok());
}

TEST_CASE("an out-of-range sampling value is refused, naming the field and the value") {
  auto message = [](auto&& edit) {
    SamplingParams p;
    edit(p);
    Status s = validate_sampling(p);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    return s.message();
  };
  CHECK(message([](SamplingParams& p) { p.temperature = -1; }) == "temperature must be >= 0, got -1");
  CHECK(message([](SamplingParams& p) { p.temperature = NAN; }).find("temperature") == 0);
  CHECK(message([](SamplingParams& p) { p.top_k = -2; }) == "top_k must be >= 0, got -2");
  CHECK(message([](SamplingParams& p) { p.top_p = 0; }) == "top_p must be in (0, 1], got 0");
  CHECK(message([](SamplingParams& p) { p.top_p = 1.5f; }) == "top_p must be in (0, 1], got 1.5");
  CHECK(message([](SamplingParams& p) { p.min_p = -0.5f; }) == "min_p must be in [0, 1], got -0.5");
  CHECK(message([](SamplingParams& p) { p.repeat_penalty = 0; }) == "repeat_penalty must be > 0, got 0");
  CHECK(message([](SamplingParams& p) { p.repeat_penalty = INFINITY; }).find("repeat_penalty") == 0);
  CHECK(message([](SamplingParams& p) { p.repeat_last_n = -1; }) == "repeat_last_n must be >= 0, got -1");
}

TEST_CASE("a token limit below one is refused") {
  CHECK(validate_max_tokens(1).ok());
  CHECK(validate_max_tokens(0).message() == "max_tokens must be at least 1, got 0");
  CHECK(validate_max_tokens(-3).code() == ErrorCode::kInvalidArgument);
}
