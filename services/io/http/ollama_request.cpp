#include "ollama_request.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace llmos::http {
namespace {

using nlohmann::json;

std::string named(std::string_view name) { return "'" + std::string(name) + "'"; }

Status get_float(const json& v, std::string_view name, float& out) {
  // The range keeps the conversion to float defined; the sampler checks the rest.
  if (!v.is_number() || !(std::abs(v.get<double>()) <= 1e9)) {
    return invalid_argument(named(name) + " must be a number (at most 1e9 in size)");
  }
  out = float(v.get<double>());
  return ok_status();
}

Status get_int(const json& v, std::string_view name, int64_t lo, int64_t hi, int64_t& out) {
  const bool huge = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max());
  if (!v.is_number_integer() || huge || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    return invalid_argument(named(name) + " must be an integer between " + std::to_string(lo) + " and " +
                            std::to_string(hi));
  }
  out = v.get<int64_t>();
  return ok_status();
}

Status parse_options(const json& opts, CompletionRequest& r) {
  if (!opts.is_object()) return invalid_argument("'options' must be an object");
  SamplingParams& s = r.sampling;
  for (const auto& [key, v] : opts.items()) {
    const std::string name = "options." + key;
    if (v.is_null()) continue;
    int64_t i = 0;
    if (key == "temperature") LLMOS_RETURN_IF_ERROR(get_float(v, name, s.temperature));
    else if (key == "top_p") LLMOS_RETURN_IF_ERROR(get_float(v, name, s.top_p));
    else if (key == "min_p") LLMOS_RETURN_IF_ERROR(get_float(v, name, s.min_p));
    else if (key == "repeat_penalty") LLMOS_RETURN_IF_ERROR(get_float(v, name, s.repeat_penalty));
    else if (key == "top_k") {
      LLMOS_RETURN_IF_ERROR(get_int(v, name, 0, std::numeric_limits<int32_t>::max(), i));
      s.top_k = int(i);
    } else if (key == "repeat_last_n") {
      // Ollama's -1 (the whole context) is not one the sampler can be told.
      LLMOS_RETURN_IF_ERROR(get_int(v, name, 0, std::numeric_limits<int32_t>::max(), i));
      s.repeat_last_n = int(i);
    } else if (key == "seed") {
      LLMOS_RETURN_IF_ERROR(get_int(v, name, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), i));
      s.seed = uint64_t(i);
      r.seed_given = true;
    } else if (key == "num_predict") {
      // Ollama's -1 (no limit) is the default: up to the context.
      LLMOS_RETURN_IF_ERROR(get_int(v, name, -1, 1 << 20, i));
      if (i == 0) return invalid_argument("'options.num_predict' must be -1 or at least 1");
      if (i > 0) r.max_tokens = int(i);
    } else if (key == "num_ctx") {
      LLMOS_RETURN_IF_ERROR(get_int(v, name, 1, 1 << 24, i));
      r.num_ctx = int(i);
    } else if (key == "stop") {
      if (!v.is_array()) return invalid_argument("'options.stop' must be an array of strings");
      for (size_t k = 0; k < v.size(); ++k) {
        if (!v[k].is_string()) return invalid_argument("'options.stop[" + std::to_string(k) + "]' must be a string");
        r.stop.push_back(v[k].get<std::string>());
      }
    } else {
      return invalid_argument(named(name) + " is not supported by llmos");
    }
  }
  if (Status st = validate_sampling(s); !st.ok()) return invalid_argument("'options': " + st.message());
  return ok_status();
}

Status parse_messages(const json& v, CompletionRequest& r) {
  if (!v.is_array() || v.empty()) return invalid_argument("'messages' must be a non-empty array of messages");
  for (size_t i = 0; i < v.size(); ++i) {
    const json& m = v[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_argument(named(where) + " must be an object");
    ChatMessage msg;
    for (const auto& [key, f] : m.items()) {
      if (key == "role" && f.is_string()) msg.role = f.get<std::string>();
      else if (key == "content" && f.is_string()) msg.content = f.get<std::string>();
      else if (key == "role" || key == "content") return invalid_argument(named(where + "." + key) + " must be a string");
      else if (!f.is_null() && !(f.is_array() && f.empty())) {
        return invalid_argument(named(where + "." + key) + " is not supported by llmos");
      }
    }
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant") {
      return invalid_argument(named(where + ".role") + " must be one of system, user, assistant (got '" + msg.role +
                              "')");
    }
    r.messages.push_back(std::move(msg));
  }
  return ok_status();
}

}  // namespace

bool keep_alive_is_zero(std::string_view keep_alive) {
  if (keep_alive.empty()) return false;
  bool digit = false;
  for (char c : keep_alive) {
    if (c >= '1' && c <= '9') return false;
    if (c == '0') digit = true;
    else if (c != '.' && c != '+' && !(c >= 'a' && c <= 'z')) return false;
  }
  return digit;
}

Result<CompletionRequest> parse_ollama_request(std::string_view body, ApiKind kind) {
  json obj = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return invalid_argument("the request body is not valid JSON");
  if (!obj.is_object()) return invalid_argument("the request body must be a JSON object");
  CompletionRequest r;
  r.kind = kind;
  r.ollama = true;
  r.ollama_chat = kind == ApiKind::kChat;
  r.stream = true;  // Ollama streams unless told not to
  r.sampling = SamplingParams{};
  bool raw = false;
  std::string prompt, system;
  bool has_prompt = false, has_messages = false;
  for (const auto& [key, v] : obj.items()) {
    if (v.is_null()) continue;
    if (key == "model") {
      if (!v.is_string() || v.get<std::string>().empty()) return invalid_argument("'model' must be a non-empty string");
      r.model = v.get<std::string>();
    } else if (key == "stream") {
      if (!v.is_boolean()) return invalid_argument("'stream' must be a boolean");
      r.stream = v.get<bool>();
    } else if (key == "options") {
      LLMOS_RETURN_IF_ERROR(parse_options(v, r));
    } else if (key == "prompt" && kind == ApiKind::kCompletion) {
      if (!v.is_string()) return invalid_argument("'prompt' must be a string");
      prompt = v.get<std::string>();
      has_prompt = true;
    } else if (key == "system" && kind == ApiKind::kCompletion) {
      if (!v.is_string()) return invalid_argument("'system' must be a string");
      system = v.get<std::string>();
    } else if (key == "raw" && kind == ApiKind::kCompletion) {
      if (!v.is_boolean()) return invalid_argument("'raw' must be a boolean");
      raw = v.get<bool>();
    } else if (key == "messages" && kind == ApiKind::kChat && v.is_array() && v.empty()) {
      // no messages: a request that only loads or unloads the model
    } else if (key == "messages" && kind == ApiKind::kChat) {
      LLMOS_RETURN_IF_ERROR(parse_messages(v, r));
      has_messages = true;
    } else if (key == "keep_alive") {
      // A duration string ("5m", "1h30m", "0", "-1") or a number of seconds;
      // the kernel checks it (docs/http-api.md).
      if (v.is_string() && !v.get<std::string>().empty()) {
        r.keep_alive = v.get<std::string>();
      } else if (v.is_number_integer()) {
        r.keep_alive = std::to_string(v.get<int64_t>());
      } else if (v.is_number()) {
        r.keep_alive = json(v.get<double>()).dump();
      } else {
        return invalid_argument("'keep_alive' must be a duration such as \"5m\" or a number of seconds");
      }
    } else if (key == "tools" && kind == ApiKind::kChat && v.is_array() && v.empty()) {
      // no tools: nothing asked
    } else {
      return invalid_argument(named(key) + " is not supported by llmos");
    }
  }
  if (r.model.empty()) return invalid_argument("'model' is required");
  if (kind == ApiKind::kChat) {
    // As Ollama: no messages loads the model (or, with keep_alive 0, unloads it).
    r.load_only = !has_messages || r.messages.empty();
    return r;
  }
  if (!has_prompt || prompt.empty()) {
    r.load_only = true;  // as Ollama: an empty prompt loads (keep_alive 0: unloads) the model
    return r;
  }
  if (raw) {
    if (!system.empty()) return invalid_argument("'system' cannot be used with 'raw': true");
    r.prompt = std::move(prompt);
    return r;
  }
  r.kind = ApiKind::kChat;  // the model's template around the prompt
  if (!system.empty()) r.messages.push_back(ChatMessage{"system", std::move(system)});
  r.messages.push_back(ChatMessage{"user", std::move(prompt)});
  return r;
}

}  // namespace llmos::http
