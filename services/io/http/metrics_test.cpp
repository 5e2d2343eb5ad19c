#include "metrics.hpp"

#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>

namespace llmos::http {
namespace {

// Checks the text is Prometheus exposition format 0.0.4 as far as llmos uses
// it, and returns every sample as "name{labels}" -> value.
std::map<std::string, double> parse_exposition(const std::string& text) {
  static const std::regex kSample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+\-]+|\+Inf|-Inf|NaN))");
  static const std::regex kComment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+)");
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    CAPTURE(line);
    if (line.starts_with("#")) {
      CHECK(std::regex_match(line, kComment));
      continue;
    }
    std::smatch m;
    REQUIRE(std::regex_match(line, m, kSample));
    const size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1) == "+Inf" ? "inf" : line.substr(sp + 1));
  }
  CHECK(text.ends_with("\n"));
  return out;
}

TEST_CASE("histograms are cumulative with +Inf, _sum and _count") {
  Histogram h({0.1, 1});
  h.observe(0.0625);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(7);
  std::string out;
  h.render(out, "x_seconds", "An example.");
  CHECK(out ==
        "# HELP x_seconds An example.\n"
        "# TYPE x_seconds histogram\n"
        "x_seconds_bucket{le=\"0.1\"} 1\n"
        "x_seconds_bucket{le=\"1\"} 3\n"
        "x_seconds_bucket{le=\"+Inf\"} 4\n"
        "x_seconds_sum 8.0625\n"
        "x_seconds_count 4\n");
}

TEST_CASE("the exposition parses and holds every metric the API promises") {
  HttpMetrics m;
  m.count_request("completions", "ok");
  m.count_request("completions", "ok");
  m.count_request("chat_completions", "bad_request");
  m.add_tokens(5, 12);
  m.observe_time_to_first_token(0.02);
  m.observe_time_per_output_token(0.003);
  m.connection_opened();
  BackendStats stats;
  stats.models.push_back(ModelStats{"stories", 2, 1, 3, 29, 1234567});
  stats.service_restarts = 4;
  stats.engine[EngineCounter::kPrefixHits] = 3;
  stats.engine[EngineCounter::kPrefixTokens] = 96;
  const std::string text = m.render(&stats);
  const auto s = parse_exposition(text);
  CHECK(s.at("llmos_http_requests_total{endpoint=\"completions\",outcome=\"ok\"}") == 2);
  CHECK(s.at("llmos_http_requests_total{endpoint=\"chat_completions\",outcome=\"ok\"}") == 0);
  CHECK(s.at("llmos_http_requests_total{endpoint=\"chat_completions\",outcome=\"bad_request\"}") == 1);
  CHECK(s.at("llmos_prompt_tokens_total") == 5);
  CHECK(s.at("llmos_generated_tokens_total") == 12);
  CHECK(s.at("llmos_time_to_first_token_seconds_count") == 1);
  CHECK(s.at("llmos_time_to_first_token_seconds_bucket{le=\"0.025\"}") == 1);
  CHECK(s.at("llmos_time_to_first_token_seconds_bucket{le=\"0.01\"}") == 0);
  CHECK(s.at("llmos_time_per_output_token_seconds_sum") == doctest::Approx(0.003));
  CHECK(s.at("llmos_queue_depth{model=\"stories\"}") == 2);
  CHECK(s.at("llmos_running_sequences{model=\"stories\"}") == 1);
  CHECK(s.at("llmos_kv_blocks_used{model=\"stories\"}") == 3);
  CHECK(s.at("llmos_kv_blocks_free{model=\"stories\"}") == 29);
  CHECK(s.at("llmos_model_memory_bytes{model=\"stories\"}") == 1234567);
  CHECK(s.at("llmos_service_restarts") == 4);
  CHECK(s.at("llmos_prefix_cache_hits_total") == 3);
  CHECK(s.at("llmos_prefix_cache_tokens_total") == 96);
  CHECK(text.find("# TYPE llmos_prefix_cache_tokens_total counter\n") != std::string::npos);
  CHECK(s.at("llmos_http_open_connections") == 1);
  CHECK(s.at("llmos_backend_up") == 1);
  CHECK(text.find("# TYPE llmos_http_requests_total counter\n") != std::string::npos);
  CHECK(text.find("# TYPE llmos_time_to_first_token_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE llmos_queue_depth gauge\n") != std::string::npos);
}

TEST_CASE("without a backend the gauges have no samples and backend_up is 0") {
  HttpMetrics m;
  const auto s = parse_exposition(m.render(nullptr));
  CHECK(s.at("llmos_backend_up") == 0);
  CHECK(s.count("llmos_service_restarts") == 0);
}

TEST_CASE("label values are escaped") {
  CHECK(escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  HttpMetrics m;
  BackendStats stats;
  stats.models.push_back(ModelStats{"we\"ird", 0, 0, 0, 0, 0});
  parse_exposition(m.render(&stats));
}

TEST_CASE("outcomes of HTTP statuses") {
  CHECK(outcome_of_status(200) == "ok");
  CHECK(outcome_of_status(400) == "bad_request");
  CHECK(outcome_of_status(401) == "unauthorized");
  CHECK(outcome_of_status(404) == "not_found");
  CHECK(outcome_of_status(413) == "too_large");
  CHECK(outcome_of_status(429) == "overloaded");
  CHECK(outcome_of_status(503) == "unavailable");
  CHECK(outcome_of_status(500) == "error");
}

}  // namespace
}  // namespace llmos::http
