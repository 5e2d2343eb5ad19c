#include "metrics.hpp"

#include <charconv>
#include <cctype>
#include <cmath>

namespace llmos::http {
namespace {

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::string_view value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

std::string model_label(const std::string& name) { return "model=\"" + escape_label(name) + "\""; }

}  // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  header(out, name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    sample(out, bucket, "le=\"" + format_number(bounds_[i]) + "\"", std::to_string(cumulative));
  }
  sample(out, bucket, "le=\"+Inf\"", std::to_string(count_));
  sample(out, std::string(name) + "_sum", "", format_number(sum_));
  sample(out, std::string(name) + "_count", "", std::to_string(count_));
}

std::string_view outcome_of_status(int s) {
  if (s >= 200 && s < 300) return "ok";
  switch (s) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413:
    case 431: return "too_large";
    case 429: return "overloaded";
    case 503: return "unavailable";
    default: break;
  }
  return s >= 400 && s < 500 ? "bad_request" : "error";
}

HttpMetrics::HttpMetrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      tpot_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {
  // Series that exist from the start, so a scrape before any traffic shows them.
  requests_[{"completions", "ok"}] = 0;
  requests_[{"chat_completions", "ok"}] = 0;
}

void HttpMetrics::count_request(std::string_view endpoint, std::string_view outcome) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(endpoint), std::string(outcome)}];
}

void HttpMetrics::add_tokens(uint64_t prompt_tokens, uint64_t generated_tokens) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt_tokens;
  generated_tokens_ += generated_tokens;
}

void HttpMetrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void HttpMetrics::observe_time_per_output_token(double seconds) {
  std::lock_guard lock(mu_);
  tpot_.observe(seconds);
}

void HttpMetrics::connection_opened() {
  std::lock_guard lock(mu_);
  ++open_connections_;
}

void HttpMetrics::connection_closed() {
  std::lock_guard lock(mu_);
  --open_connections_;
}

std::string HttpMetrics::render(const BackendStats* stats) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    header(out, "llmos_http_requests_total", "counter", "HTTP requests by endpoint and outcome.");
    for (const auto& [key, n] : requests_) {
      sample(out, "llmos_http_requests_total",
             "endpoint=\"" + escape_label(key.first) + "\",outcome=\"" + escape_label(key.second) + "\"",
             std::to_string(n));
    }
    header(out, "llmos_prompt_tokens_total", "counter", "Prompt tokens of completed generations.");
    sample(out, "llmos_prompt_tokens_total", "", std::to_string(prompt_tokens_));
    header(out, "llmos_generated_tokens_total", "counter", "Tokens generated.");
    sample(out, "llmos_generated_tokens_total", "", std::to_string(generated_tokens_));
    ttft_.render(out, "llmos_time_to_first_token_seconds", "Time from request to its first generated token.");
    tpot_.render(out, "llmos_time_per_output_token_seconds", "Time between consecutive generated tokens.");
    header(out, "llmos_http_open_connections", "gauge", "Open HTTP connections.");
    sample(out, "llmos_http_open_connections", "", std::to_string(open_connections_));
  }
  header(out, "llmos_backend_up", "gauge", "1 when the serving system answers, else 0.");
  sample(out, "llmos_backend_up", "", stats ? "1" : "0");

  struct Gauge {
    const char* name;
    const char* help;
    uint64_t (*get)(const ModelStats&);
  };
  static constexpr Gauge kGauges[] = {
      {"llmos_queue_depth", "Requests waiting for a sequence slot.", [](const ModelStats& m) { return uint64_t(m.queued); }},
      {"llmos_running_sequences", "Sequences being generated.", [](const ModelStats& m) { return uint64_t(m.running); }},
      {"llmos_kv_blocks_used", "KV cache blocks in use.", [](const ModelStats& m) { return uint64_t(m.kv_blocks_used); }},
      {"llmos_kv_blocks_free", "KV cache blocks free.", [](const ModelStats& m) { return uint64_t(m.kv_blocks_free); }},
      {"llmos_model_memory_bytes", "Memory of a loaded model (weights, activations, KV cache).",
       [](const ModelStats& m) { return m.memory_bytes; }},
      {"llmos_model_last_use_seconds", "When a model's last request ended (unix seconds; 0 = unknown).",
       [](const ModelStats& m) { return m.last_use_unix_ms / 1000; }},
      {"llmos_model_expires_seconds",
       "When an idle model will be unloaded (unix seconds; 0 = not while busy, or kept loaded).",
       [](const ModelStats& m) { return m.expires_unix_ms / 1000; }},
  };
  for (const Gauge& g : kGauges) {
    header(out, g.name, "gauge", g.help);
    if (!stats) continue;
    for (const auto& m : stats->models) sample(out, g.name, model_label(m.name), std::to_string(g.get(m)));
  }
  header(out, "llmos_model_state", "gauge", "1 for a model's state: loading, ready, unloading or failed.");
  if (stats) {
    for (const auto& m : stats->models) {
      const std::string state = m.state == ModelState::kDraining ? "unloading" : std::string(model_state_name(m.state));
      sample(out, "llmos_model_state", model_label(m.name) + ",state=\"" + state + "\"", "1");
    }
  }
  header(out, "llmos_service_restarts", "gauge", "Service restarts by the supervisor since the system started.");
  if (stats) sample(out, "llmos_service_restarts", "", std::to_string(stats->service_restarts));
  for (const auto& info : engine_counter_table()) {
    const std::string name = "llmos_" + std::string(info.name) + "_total";
    std::string help(info.help);
    help[0] = char(std::toupper(static_cast<unsigned char>(help[0])));
    header(out, name, "counter", help + ".");
    if (stats) sample(out, name, "", std::to_string(stats->engine[info.counter]));
  }
  return out;
}

}  // namespace llmos::http
