// HttpMetrics: the counters and histograms the HTTP layer keeps, rendered with
// the backend's gauges as Prometheus text exposition format 0.0.4 (GET /metrics).
// Thread-safe: every method may be called from any thread (one mutex).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  // REQUIRES: bounds ascending.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // HELP/TYPE lines, _bucket{le=...} lines (with +Inf), _sum and _count.
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // [bounds_.size() + 1], last = above every bound
  double sum_ = 0;
  uint64_t count_ = 0;
};

// The label value of a request's outcome: "ok", "bad_request", "unauthorized",
// "forbidden", "not_found", "method_not_allowed", "too_large", "overloaded",
// "unavailable", "error", or "cancelled" (the client went away).
std::string_view outcome_of_status(int http_status);

class HttpMetrics {
 public:
  HttpMetrics();

  void count_request(std::string_view endpoint, std::string_view outcome);
  void add_tokens(uint64_t prompt_tokens, uint64_t generated_tokens);
  void observe_time_to_first_token(double seconds);
  void observe_time_per_output_token(double seconds);
  void connection_opened();
  void connection_closed();

  // The whole exposition. `stats` is the backend's (null when it does not answer).
  std::string render(const BackendStats* stats) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;  // (endpoint, outcome) -> count
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  int64_t open_connections_ = 0;
  Histogram ttft_;
  Histogram tpot_;
};

// Prometheus label value escaping: \ " and newline.
std::string escape_label(std::string_view value);

}  // namespace llmos::http
