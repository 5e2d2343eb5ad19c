#include "ollama_store_api.hpp"

#include <nlohmann/json.hpp>

#include "llmos/model/model_store.hpp"

namespace llmos::http {
namespace {

using nlohmann::json;
using verb = boost::beast::http::verb;

ApiReply json_reply(int status, const json& body) {
  return ApiReply{status, "application/json; charset=utf-8", body.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

ApiReply ollama_error(int status, const std::string& message) { return json_reply(status, {{"error", message}}); }

int status_of(const Status& st) {
  switch (st.code()) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    default: return 500;
  }
}

// GGML's general.file_type as Ollama's quantization_level.
std::string quantization_level(int64_t file_type) {
  switch (file_type) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return file_type < 0 ? "unknown" : "file type " + std::to_string(file_type);
  }
}

// Parameters counted from the weights' shape (embedding and per-layer
// matrices are close enough for Ollama's "parameter_size" label, e.g. "1.1B").
std::string parameter_size(const model::Hyperparameters& h) {
  const double d = h.dim, layers = h.n_layers, ffn = h.ffn_dim, vocab = h.n_vocab;
  const double per_layer = d * h.q_dim() + 2.0 * d * h.kv_dim() + double(h.q_dim()) * d +
                           3.0 * d * ffn * std::max(1, h.n_experts);
  const double n = vocab * d * (h.tied_output ? 1 : 2) + layers * per_layer;
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof(buf), "%.1fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof(buf), "%.1fM", n / 1e6);
  else std::snprintf(buf, sizeof(buf), "%.1fK", n / 1e3);
  return buf;
}

json details_json(const model::ModelManifest& m) {
  const std::string& arch = m.facts.hparams.architecture;
  return {{"parent_model", ""},
          {"format", "gguf"},
          {"family", arch},
          {"families", json::array({arch})},
          {"parameter_size", parameter_size(m.facts.hparams)},
          {"quantization_level", quantization_level(m.facts.file_type)}};
}

json tag_json(const model::ModelManifest& m) {
  return {{"name", m.name.str()},   {"model", m.name.str()}, {"modified_at", m.created},
          {"size", m.size},         {"digest", m.sha256},    {"details", details_json(m)}};
}

json model_info_json(const model::ModelManifest& m) {
  const model::Hyperparameters& h = m.facts.hparams;
  const std::string a = h.architecture + ".";
  json info = {{"general.architecture", h.architecture},
               {a + "context_length", h.ctx_len},
               {a + "embedding_length", h.dim},
               {a + "block_count", h.n_layers},
               {a + "feed_forward_length", h.ffn_dim},
               {a + "attention.head_count", h.n_heads},
               {a + "attention.head_count_kv", h.n_kv_heads},
               {a + "rope.freq_base", h.rope_freq_base},
               {a + "attention.layer_norm_rms_epsilon", h.rms_eps},
               {a + "vocab_size", h.n_vocab}};
  if (!h.name.empty()) info["general.name"] = h.name;
  if (h.n_experts > 0) info[a + "expert_count"] = h.n_experts, info[a + "expert_used_count"] = h.n_experts_used;
  return info;
}

// The body as a JSON object, or the 400 to send.
Result<json> parse_body(std::string_view body) {
  json obj = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded() || !obj.is_object()) return invalid_argument("the request body must be a JSON object");
  return obj;
}

// A model name from `field` (or Ollama's older "name"), parsed.
Result<model::ModelName> name_field(const json& obj, const char* field) {
  const json* v = obj.contains(field) ? &obj[field] : obj.contains("name") ? &obj["name"] : nullptr;
  if (v == nullptr || !v->is_string() || v->get<std::string>().empty())
    return invalid_argument(std::string("'") + field + "' must be a model name");
  return model::parse_model_name(v->get<std::string>());
}

Result<model::ModelStore> open_store(const std::string& dir) {
  if (dir.empty()) return not_found("this server has no model store (start it with --models-dir or LLMOS_MODELS)");
  return model::ModelStore::open(dir);
}

ApiReply tags(const std::string& dir) {
  json models = json::array();
  if (!dir.empty()) {
    auto store = open_store(dir);
    if (!store.ok()) return ollama_error(500, store.status().message());
    auto all = store->list();
    if (!all.ok()) return ollama_error(500, all.status().message());
    for (const auto& m : *all) models.push_back(tag_json(m));
  }
  return json_reply(200, {{"models", models}});
}

ApiReply show(const std::string& dir, std::string_view body) {
  auto obj = parse_body(body);
  if (!obj.ok()) return ollama_error(400, obj.status().message());
  auto name = name_field(*obj, "model");
  if (!name.ok()) return ollama_error(400, name.status().message());
  auto store = open_store(dir);
  if (!store.ok()) return ollama_error(status_of(store.status()), store.status().message());
  auto m = store->find(*name);
  if (!m.ok()) return ollama_error(status_of(m.status()), m.status().message());
  return json_reply(200, {{"license", ""},
                          {"modelfile", "FROM " + store->blob_path(*m) + "\n"},
                          {"parameters", ""},
                          {"template", ""},
                          {"details", details_json(*m)},
                          {"model_info", model_info_json(*m)},
                          {"capabilities", json::array({"completion"})},
                          {"modified_at", m->created}});
}

ApiReply remove(const std::string& dir, std::string_view body) {
  auto obj = parse_body(body);
  if (!obj.ok()) return ollama_error(400, obj.status().message());
  auto name = name_field(*obj, "model");
  if (!name.ok()) return ollama_error(400, name.status().message());
  auto store = open_store(dir);
  if (!store.ok()) return ollama_error(status_of(store.status()), store.status().message());
  if (Status st = store->remove(*name); !st.ok()) return ollama_error(status_of(st), st.message());
  return ApiReply{200, "application/json; charset=utf-8", "", {}};
}

ApiReply copy(const std::string& dir, std::string_view body) {
  auto obj = parse_body(body);
  if (!obj.ok()) return ollama_error(400, obj.status().message());
  auto src = name_field(*obj, "source");
  if (!src.ok()) return ollama_error(400, src.status().message());
  if (!obj->contains("destination") || !(*obj)["destination"].is_string())
    return ollama_error(400, "'destination' must be a model name");
  auto dst = model::parse_model_name((*obj)["destination"].get<std::string>());
  if (!dst.ok()) return ollama_error(400, dst.status().message());
  auto store = open_store(dir);
  if (!store.ok()) return ollama_error(status_of(store.status()), store.status().message());
  auto m = store->copy(*src, *dst);
  if (!m.ok()) return ollama_error(status_of(m.status()), m.status().message());
  return ApiReply{200, "application/json; charset=utf-8", "", {}};
}

ApiReply wrong_method(verb method, std::string_view path, const char* allow) {
  ApiReply r = ollama_error(405, std::string(boost::beast::http::to_string(method)) + " " + std::string(path) +
                                     " is not allowed; use " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace

bool is_ollama_store_path(std::string_view path) {
  return path == "/" || path == "/api/version" || path == "/api/tags" || path == "/api/show" ||
         path == "/api/delete" || path == "/api/copy";
}

ApiReply ollama_store_reply(const std::string& models_dir, verb method, std::string_view path, std::string_view body) {
  if (path == "/") {
    if (method == verb::head) return ApiReply{200, "text/plain; charset=utf-8", "", {}};
    if (method != verb::get) return wrong_method(method, path, "GET, HEAD");
    return ApiReply{200, "text/plain; charset=utf-8", "Ollama is running", {}};
  }
  if (path == "/api/version") {
    if (method != verb::get && method != verb::head) return wrong_method(method, path, "GET");
    return json_reply(200, {{"version", kOllamaApiVersion}});
  }
  if (path == "/api/tags") {
    if (method != verb::get && method != verb::head) return wrong_method(method, path, "GET");
    return tags(models_dir);
  }
  if (path == "/api/show") return method == verb::post ? show(models_dir, body) : wrong_method(method, path, "POST");
  if (path == "/api/delete")
    return method == verb::delete_ ? remove(models_dir, body) : wrong_method(method, path, "DELETE");
  if (path == "/api/copy") return method == verb::post ? copy(models_dir, body) : wrong_method(method, path, "POST");
  return ollama_error(404, "no such endpoint: " + std::string(path));
}

}  // namespace llmos::http
