#include "completion_request.hpp"

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

namespace llmos::http {
namespace {

using nlohmann::json;

constexpr size_t kMaxStopStrings = 16;
constexpr int64_t kMaxTokensLimit = 1 << 20;

std::string field_name(std::string_view field) {
  std::string out(1, '\'');
  out.append(field).push_back('\'');
  return out;
}

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// The field's value, or nullptr when absent or null (both mean "not given").
const json* field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status get_number(const json& obj, const char* name, double lo, double hi, bool lo_open, float& out) {
  const json* v = field(obj, name);
  if (!v) return ok_status();
  const bool in_range = v->is_number() && (lo_open ? v->get<double>() > lo : v->get<double>() >= lo) &&
                        v->get<double>() <= hi;
  if (!in_range) {
    std::string range = lo_open ? "greater than " + number(lo) + " and at most " + number(hi)
                                : "between " + number(lo) + " and " + number(hi);
    return invalid_argument(field_name(name) + " must be a number " + range);
  }
  out = float(v->get<double>());
  return ok_status();
}

Status get_int(const json& obj, const char* name, int64_t lo, int64_t hi, std::optional<int64_t>& out) {
  const json* v = field(obj, name);
  if (!v) return ok_status();
  if (!v->is_number_integer()) return invalid_argument(field_name(name) + " must be an integer");
  const bool huge = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max());
  if (huge || v->get<int64_t>() < lo || v->get<int64_t>() > hi) {
    return invalid_argument(field_name(name) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  out = v->get<int64_t>();
  return ok_status();
}

Status get_bool(const json& obj, const char* name, bool& out) {
  const json* v = field(obj, name);
  if (!v) return ok_status();
  if (!v->is_boolean()) return invalid_argument(field_name(name) + " must be a boolean");
  out = v->get<bool>();
  return ok_status();
}

Status parse_stop(const json& obj, std::vector<std::string>& out) {
  const json* v = field(obj, "stop");
  if (!v) return ok_status();
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
    return ok_status();
  }
  if (!v->is_array()) return invalid_argument("'stop' must be a string or an array of strings");
  if (v->size() > kMaxStopStrings) {
    return invalid_argument("'stop' may hold at most " + std::to_string(kMaxStopStrings) + " strings");
  }
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) return invalid_argument("'stop[" + std::to_string(i) + "]' must be a string");
    out.push_back((*v)[i].get<std::string>());
  }
  return ok_status();
}

Status parse_prompt(const json& obj, CompletionRequest& r) {
  const json* v = field(obj, "prompt");
  if (!v) return invalid_argument("'prompt' is required");
  if (v->is_string()) {
    r.prompt = v->get<std::string>();
    return ok_status();
  }
  const char* kShape = "'prompt' must be a string, an array of one string, or an array of token ids";
  if (!v->is_array() || v->empty()) return invalid_argument(kShape);
  const json* ids = v;
  if ((*v)[0].is_string() || (*v)[0].is_array()) {
    if (v->size() != 1) return invalid_argument("'prompt' holds several prompts; llmos answers one prompt per request");
    if ((*v)[0].is_string()) {
      r.prompt = (*v)[0].get<std::string>();
      return ok_status();
    }
    ids = &(*v)[0];
    if (ids->empty()) return invalid_argument(kShape);
  }
  for (size_t i = 0; i < ids->size(); ++i) {
    const json& t = (*ids)[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return invalid_argument("'prompt[" + std::to_string(i) + "]' must be a token id (an integer >= 0)");
    }
    r.prompt_ids.push_back(t.get<int32_t>());
  }
  r.prompt_is_ids = true;
  return ok_status();
}

Status parse_content(const json& m, const std::string& where, std::string& out) {
  const json* c = field(m, "content");
  if (!c) return ok_status();  // an assistant turn may have no content
  if (c->is_string()) {
    out = c->get<std::string>();
    return ok_status();
  }
  if (!c->is_array()) return invalid_argument(field_name(where + ".content") + " must be a string or an array of text parts");
  for (size_t j = 0; j < c->size(); ++j) {
    const json& part = (*c)[j];
    const std::string pw = where + ".content[" + std::to_string(j) + "]";
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part["text"].is_string()) {
      return invalid_argument(field_name(pw) + " must be {\"type\": \"text\", \"text\": string}; only text is supported");
    }
    out += part["text"].get<std::string>();
  }
  return ok_status();
}

Status parse_messages(const json& obj, CompletionRequest& r) {
  const json* v = field(obj, "messages");
  if (!v) return invalid_argument("'messages' is required");
  if (!v->is_array() || v->empty()) return invalid_argument("'messages' must be a non-empty array of messages");
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_argument(field_name(where) + " must be an object");
    const json* role = field(m, "role");
    if (!role || !role->is_string()) return invalid_argument(field_name(where + ".role") + " must be a string");
    ChatMessage msg;
    msg.role = role->get<std::string>();
    if (msg.role == "developer") msg.role = "system";
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant") {
      return invalid_argument(field_name(where + ".role") + " must be one of system, user, assistant (got '" + msg.role + "')");
    }
    LLMOS_RETURN_IF_ERROR(parse_content(m, where, msg.content));
    r.messages.push_back(std::move(msg));
  }
  return ok_status();
}

// Fields llmos does not implement are refused when they ask for something.
Status refuse_unsupported(const json& obj) {
  if (const json* v = field(obj, "echo"); v && *v != false) return invalid_argument("'echo' is not supported");
  if (const json* v = field(obj, "logprobs"); v && *v != false) return invalid_argument("'logprobs' is not supported");
  if (const json* v = field(obj, "best_of"); v && *v != 1) return invalid_argument("'best_of' must be 1");
  if (const json* v = field(obj, "suffix"); v && *v != "") return invalid_argument("'suffix' is not supported");
  if (const json* v = field(obj, "tools"); v && !(v->is_array() && v->empty())) {
    return invalid_argument("'tools' is not supported");
  }
  return ok_status();
}

}  // namespace

Result<CompletionRequest> parse_completion_request(std::string_view body, ApiKind kind) {
  json obj;
  try {
    obj = json::parse(body);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (const size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return invalid_argument("the request body is not valid JSON: " + what);
  }
  if (!obj.is_object()) return invalid_argument("the request body must be a JSON object");

  CompletionRequest r;
  r.kind = kind;
  if (const json* v = field(obj, "model")) {
    if (!v->is_string()) return invalid_argument("'model' must be a string");
    r.model = v->get<std::string>();
  }
  LLMOS_RETURN_IF_ERROR(kind == ApiKind::kCompletion ? parse_prompt(obj, r) : parse_messages(obj, r));

  std::optional<int64_t> n, max_tokens, max_completion_tokens, top_k, seed;
  LLMOS_RETURN_IF_ERROR(get_int(obj, "n", 1, 128, n));
  if (n && *n != 1) return invalid_argument("'n' must be 1: llmos generates one choice per request");
  LLMOS_RETURN_IF_ERROR(get_int(obj, "max_tokens", 1, kMaxTokensLimit, max_tokens));
  LLMOS_RETURN_IF_ERROR(get_int(obj, "max_completion_tokens", 1, kMaxTokensLimit, max_completion_tokens));
  if (max_tokens) r.max_tokens = int(*max_tokens);
  else if (max_completion_tokens) r.max_tokens = int(*max_completion_tokens);

  SamplingParams& s = r.sampling;
  LLMOS_RETURN_IF_ERROR(get_number(obj, "temperature", 0, 2, false, s.temperature));
  LLMOS_RETURN_IF_ERROR(get_number(obj, "top_p", 0, 1, true, s.top_p));
  LLMOS_RETURN_IF_ERROR(get_number(obj, "min_p", 0, 1, false, s.min_p));
  LLMOS_RETURN_IF_ERROR(get_number(obj, "repeat_penalty", 0, 10, true, s.repeat_penalty));
  // OpenAI's additive penalties are not implemented: 0 (their "off") is
  // accepted, any other value is refused rather than silently ignored.
  for (const char* name : {"frequency_penalty", "presence_penalty"}) {
    float penalty = 0;
    LLMOS_RETURN_IF_ERROR(get_number(obj, name, -2, 2, false, penalty));
    if (penalty != 0) {
      return invalid_argument("'" + std::string(name) + "' is not supported (only 0); use 'repeat_penalty'");
    }
  }
  LLMOS_RETURN_IF_ERROR(get_int(obj, "top_k", 0, std::numeric_limits<int32_t>::max(), top_k));
  if (top_k) s.top_k = int(*top_k);
  if (const json* v = field(obj, "seed")) {
    if (!v->is_number_integer()) return invalid_argument("'seed' must be an integer");
    s.seed = v->is_number_unsigned() ? v->get<uint64_t>() : uint64_t(v->get<int64_t>());
    r.seed_given = true;
  }
  LLMOS_RETURN_IF_ERROR(parse_stop(obj, r.stop));
  LLMOS_RETURN_IF_ERROR(get_bool(obj, "stream", r.stream));
  if (const json* v = field(obj, "stream_options")) {
    if (!v->is_object()) return invalid_argument("'stream_options' must be an object");
    LLMOS_RETURN_IF_ERROR(get_bool(*v, "include_usage", r.include_usage));
  }
  if (const json* v = field(obj, "priority")) {
    auto p = v->is_string() ? parse_priority(v->get<std::string>()) : std::nullopt;
    if (!p) return invalid_argument("'priority' must be \"interactive\" or \"batch\"");
    r.priority = *p;
  }
  LLMOS_RETURN_IF_ERROR(refuse_unsupported(obj));
  return r;
}

}  // namespace llmos::http
