#include "api_routes.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "admin_call.hpp"
#include "api_error.hpp"
#include "apply_template.hpp"
#include "completion_call.hpp"
#include "completion_request.hpp"
#include "completion_response.hpp"
#include "model_json.hpp"
#include "ollama_request.hpp"
#include "ollama_response.hpp"
#include "ollama_store_api.hpp"
#include "pull_call.hpp"
#include "on_demand_call.hpp"
#include "pooled_call.hpp"

namespace llmos::http {
namespace {

using nlohmann::json;
using verb = boost::beast::http::verb;

constexpr std::string_view kAdminModels = "/admin/models";
constexpr std::string_view kV1Models = "/v1/models";

ApiReply json_reply(int status, const json& body) { return ApiReply{status, "application/json", json_text(body), {}}; }

// A ready model by name; the first ready one when `name` is empty.
Result<ModelInfo> resolve_model(GenerationBackend& backend, const std::string& name) {
  LLMOS_ASSIGN_OR_RETURN(auto models, backend.list_models());
  for (const auto& m : models) {
    if (name.empty() ? m.state == ModelState::kReady : m.name == name) {
      if (m.state == ModelState::kReady) return m;
      return disconnected("model '" + m.name + "' is " + std::string(model_state_name(m.state)) + ", not ready");
    }
  }
  if (name.empty()) return disconnected("no model is ready");
  return not_found("model '" + name + "' not found; GET /v1/models lists the loaded models");
}

ApiReply model_error(const Status& st) {
  ApiError e = api_error_from_status(st);
  if (st.code() == ErrorCode::kNotFound) e.code = "model_not_found";
  if (st.code() == ErrorCode::kDisconnected) e.code = "model_not_ready";
  return error_reply(e);
}

ApiReply health_ready(GenerationBackend& backend) {
  auto models = backend.list_models();
  if (!models.ok()) return error_reply(api_error_from_status(models.status()));
  json ready = json::array();
  for (const auto& m : *models) {
    if (m.state == ModelState::kReady) ready.push_back(m.name);
  }
  if (ready.empty()) return error_reply(no_model_ready("no model is ready"));
  return json_reply(200, {{"status", "ready"}, {"models", ready}});
}

ApiReply list_models(GenerationBackend& backend, bool admin) {
  auto models = backend.list_models();
  if (!models.ok()) return error_reply(api_error_from_status(models.status()));
  json data = json::array();
  for (const auto& m : *models) {
    if (admin) data.push_back(model_admin_json(m));
    else if (m.state == ModelState::kReady) data.push_back(model_openai_json(m));
  }
  if (admin) return json_reply(200, {{"models", data}});
  return json_reply(200, {{"object", "list"}, {"data", data}});
}

ApiReply get_model(GenerationBackend& backend, const std::string& name) {
  auto m = resolve_model(backend, name);
  if (!m.ok()) return model_error(m.status());
  return json_reply(200, model_openai_json(*m));
}

bool valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

Result<LoadParams> parse_load(std::string_view body) {
  json obj = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return invalid_argument("the request body is not valid JSON");
  if (!obj.is_object()) return invalid_argument("the request body must be a JSON object");
  LoadParams p;
  if (!obj.contains("path") || !obj["path"].is_string() || obj["path"].get<std::string>().empty()) {
    return invalid_argument("'path' must be the model file's path (a non-empty string)");
  }
  p.path = obj["path"].get<std::string>();
  if (obj.contains("name") && !obj["name"].is_null()) {
    if (!obj["name"].is_string()) return invalid_argument("'name' must be a string");
    p.name = obj["name"].get<std::string>();
  } else {
    p.name = std::filesystem::path(p.path).stem().string();
  }
  if (!valid_model_name(p.name)) {
    return invalid_argument("'name' must be 1-128 characters of letters, digits, '.', '_', '-', ':' (got '" + p.name +
                            "')");
  }
  if (obj.contains("ctx") && !obj["ctx"].is_null()) {
    if (!obj["ctx"].is_number_integer() || obj["ctx"].get<int64_t>() < 0 || obj["ctx"].get<int64_t>() > (1 << 24)) {
      return invalid_argument("'ctx' must be an integer between 0 and 16777216 (0 = the model's)");
    }
    p.ctx = obj["ctx"].get<int>();
  }
  if (obj.contains("threads") && !obj["threads"].is_null()) {
    if (!obj["threads"].is_number_integer() || obj["threads"].get<int64_t>() < 0 || obj["threads"].get<int64_t>() > 1024) {
      return invalid_argument("'threads' must be an integer between 0 and 1024 (0 = automatic)");
    }
    p.threads = obj["threads"].get<int>();
  }
  if (obj.contains("chat_template_file") && !obj["chat_template_file"].is_null()) {
    if (!obj["chat_template_file"].is_string()) return invalid_argument("'chat_template_file' must be a string");
    p.chat_template_file = obj["chat_template_file"].get<std::string>();
  }
  if (obj.contains("device") && !obj["device"].is_null()) {
    const bool known = obj["device"].is_string() &&
                       (obj["device"] == "cpu" || obj["device"] == "cuda" || obj["device"] == "auto");
    if (!known) return invalid_argument("'device' must be \"cpu\", \"cuda\" or \"auto\"");
    p.device = obj["device"].get<std::string>();
  }
  return p;
}

// POST /apply-template: {"prompt": the rendering}.
ApiReply apply_template(GenerationBackend& backend, std::string_view body) {
  auto request = parse_apply_template_request(body);
  if (!request.ok()) return error_reply(bad_request(request.status().message()));
  auto model = resolve_model(backend, request->model);
  if (!model.ok()) return model_error(model.status());
  auto info = backend.prompt_info(model->name);
  if (!info.ok()) return model_error(info.status());
  auto prompt = apply_chat_template(*info, request->input, jinja::template_clock_now());
  if (!prompt.ok()) return error_reply(bad_request(prompt.status().message()));
  return json_reply(200, {{"prompt", *prompt}});
}

struct Route {
  std::string_view endpoint;
  std::vector<verb> methods;
  enum class Auth { kNone, kUser, kAdmin } auth;
};

// The route of a path, or nullopt for an unknown path.
std::optional<Route> find_route(std::string_view path) {
  using A = Route::Auth;
  if (path == "/health/live" || path == "/health/ready") return Route{"health", {verb::get}, A::kNone};
  if (path == "/metrics") return Route{"metrics", {verb::get}, A::kNone};
  if (path == "/v1/completions") return Route{"completions", {verb::post}, A::kUser};
  if (path == "/v1/chat/completions") return Route{"chat_completions", {verb::post}, A::kUser};
  if (path == kV1Models) return Route{"models", {verb::get}, A::kUser};
  if (path == "/apply-template") return Route{"apply_template", {verb::post}, A::kUser};
  if (path.starts_with("/v1/models/") && path.size() > kV1Models.size() + 1) {
    return Route{"models", {verb::get}, A::kUser};
  }
  if (path == kAdminModels) return Route{"admin", {verb::get, verb::post}, A::kAdmin};
  if (path.starts_with("/admin/models/") && path.size() > kAdminModels.size() + 1) {
    return Route{"admin", {verb::delete_}, A::kAdmin};
  }
  return std::nullopt;
}

std::string allow_header(const std::vector<verb>& methods) {
  std::string out;
  for (verb v : methods) {
    if (!out.empty()) out += ", ";
    out += std::string(boost::beast::http::to_string(v));
  }
  return out;
}

ApiReply ollama_error(int status, const std::string& message) {
  return ApiReply{status, "application/json; charset=utf-8", json_text(json{{"error", message}}), {}};
}

// A model for Ollama's API: as named, or a stored model's "NAME:latest".
Result<ModelInfo> resolve_ollama_model(GenerationBackend& backend, const std::string& name) {
  auto model = resolve_model(backend, name);
  if (!model.ok() && model.status().code() == ErrorCode::kNotFound && name.find(':') == std::string::npos) {
    // Ollama's "tiny" is "tiny:latest", the name a stored model is loaded under.
    if (auto tagged = resolve_model(backend, name + ":latest"); tagged.ok()) model = std::move(tagged);
  }
  return model;
}

// A generation request's way to its model: `go(model, reservation)` makes the
// request once the model is ready. With load on demand every request asks the
// backend first (ensure_model through an OnDemandCall), listed as ready or
// not: a model the kernel is unloading then waits and loads again instead of
// refusing the submit, and the request carries the reservation that holds it.
// Without, the model must be listed ready (reservation 0). `ollama_names`:
// "tiny" may be the loaded "tiny:latest". on_error gives the error's reply.
Routed route_to_model(const std::shared_ptr<ServerContext>& ctx, const std::string& name, std::string keep_alive,
                      bool ollama_names, std::function<Routed(ModelInfo, uint64_t)> go,
                      std::function<ApiReply(const Status&)> on_error, std::weak_ptr<Exchange> exchange,
                      boost::asio::any_io_executor executor) {
  auto model = ollama_names ? resolve_ollama_model(ctx->backend, name) : resolve_model(ctx->backend, name);
  if (!ctx->backend.loads_on_demand()) {
    if (!model.ok()) return Routed{on_error(model.status()), nullptr};
    return go(std::move(*model), 0);
  }
  if (!model.ok()) {  // not listed, or listed but loading / unloading: the backend may still load it
    const ErrorCode code = model.status().code();
    const bool absent = code == ErrorCode::kNotFound || code == ErrorCode::kDisconnected;
    if (name.empty() || !absent) return Routed{on_error(model.status()), nullptr};
  }
  // The name as listed (an empty name's first ready model, "tiny:latest"), else as asked.
  const std::string asked = model.ok() ? model->name : name;
  auto then = [ctx, go = std::move(go), on_error](const EnsuredModel& loaded) -> Routed {
    auto m = resolve_model(ctx->backend, loaded.name);
    if (!m.ok()) return Routed{on_error(m.status()), nullptr};
    return go(std::move(*m), loaded.reservation);
  };
  return Routed{std::nullopt, std::make_shared<OnDemandCall>(ctx, asked, std::move(keep_alive), std::move(then),
                                                             std::move(on_error), std::move(exchange),
                                                             std::move(executor))};
}

// The request for a ready model: its num_ctx must match, then a CompletionCall.
Routed continue_ollama(const std::shared_ptr<ServerContext>& ctx, CompletionRequest request, ModelInfo model,
                       std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor,
                       std::chrono::steady_clock::time_point received) {
  if (request.num_ctx && *request.num_ctx != model.context_length) {
    ctx->metrics.count_request("ollama", outcome_of_status(400));
    return Routed{ollama_error(400, "'options.num_ctx' " + std::to_string(*request.num_ctx) +
                                        " cannot be honoured: model '" + model.name + "' is loaded with a context of " +
                                        std::to_string(model.context_length) + " tokens"),
                  nullptr};
  }
  return Routed{std::nullopt, std::make_shared<CompletionCall>(ctx, std::move(request), std::move(model),
                                                               std::move(exchange), std::move(executor), received)};
}

// Ollama's answer to a request that only loads ("done_reason": "load") or,
// with keep_alive 0, unloads ("unload") the model.
ApiReply ollama_load_reply(const std::string& model, bool chat, const char* reason) {
  json j = {{"model", model}, {"created_at", ollama_timestamp()}, {"done", true}, {"done_reason", reason}};
  if (chat) {
    j["message"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    j["response"] = "";
  }
  return ApiReply{200, "application/json; charset=utf-8", json_text(j), {}};
}

// An Ollama request without a prompt: load the model (setting its keep-alive),
// or with keep_alive 0 unload it (a model that is not loaded is no error).
Routed route_ollama_load(const std::shared_ptr<ServerContext>& ctx, CompletionRequest request,
                         std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor) {
  const bool chat = request.ollama_chat;
  auto on_error = [ctx](const Status& st) {
    const int status = api_error_from_status(st).status;
    ctx->metrics.count_request("ollama", outcome_of_status(status));
    return ollama_error(status, st.message());
  };
  if (!ctx->backend.loads_on_demand() && !keep_alive_is_zero(request.keep_alive)) {
    auto model = resolve_ollama_model(ctx->backend, request.model);
    if (!model.ok()) return Routed{on_error(model.status()), nullptr};
    ctx->metrics.count_request("ollama", "ok");
    return Routed{ollama_load_reply(model->name, chat, "load"), nullptr};
  }
  if (!keep_alive_is_zero(request.keep_alive)) {
    auto then = [ctx, chat](const EnsuredModel& loaded) {
      ctx->metrics.count_request("ollama", "ok");
      return Routed{ollama_load_reply(loaded.name, chat, "load"), nullptr};
    };
    return Routed{std::nullopt, std::make_shared<OnDemandCall>(ctx, request.model, request.keep_alive,
                                                               std::move(then), std::move(on_error),
                                                               std::move(exchange), std::move(executor))};
  }
  auto model = resolve_ollama_model(ctx->backend, request.model);
  const std::string name = model.ok() ? model->name : request.model;
  auto then = [ctx, chat](const EnsuredModel& unloaded) {
    ctx->metrics.count_request("ollama", "ok");
    return Routed{ollama_load_reply(unloaded.name, chat, "unload"), nullptr};
  };
  if (!model.ok()) return then(EnsuredModel{name, 0});  // nothing to unload
  auto call = std::make_shared<OnDemandCall>(ctx, name, "", std::move(then), std::move(on_error), std::move(exchange),
                                             std::move(executor));
  call->unload_instead();
  return Routed{std::nullopt, std::move(call)};
}

// POST /api/generate and /api/chat: Ollama's request over the OpenAI path's
// CompletionCall, for a loaded model.
Routed route_ollama_generation(const std::shared_ptr<ServerContext>& ctx, ApiRequest req, const std::string& path,
                               std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor) {
  auto now = [&](ApiReply reply) {
    ctx->metrics.count_request("ollama", outcome_of_status(reply.status));
    return Routed{std::move(reply), nullptr};
  };
  const ApiKeys& keys = ctx->options.api_keys;
  if (keys.enabled() && keys.role_of(req.authorization) == KeyRole::kNone) {
    return now(error_reply(unauthorized("missing or invalid API key: send 'Authorization: Bearer KEY'")));
  }
  if (req.method != verb::post) {
    ApiReply r = ollama_error(405, std::string(boost::beast::http::to_string(req.method)) + " " + path +
                                       " is not allowed; use POST");
    r.headers.emplace_back("Allow", "POST");
    return now(std::move(r));
  }
  auto request = parse_ollama_request(req.body, path == "/api/chat" ? ApiKind::kChat : ApiKind::kCompletion);
  if (!request.ok()) return now(ollama_error(400, request.status().message()));
  if (request->load_only) return route_ollama_load(ctx, std::move(*request), std::move(exchange), std::move(executor));
  const std::string name = request->model, keep_alive = request->keep_alive;
  auto go = [ctx, request = std::move(*request), exchange, executor, received = req.received](
                ModelInfo model, uint64_t reservation) mutable -> Routed {
    request.reservation = reservation;
    return continue_ollama(ctx, std::move(request), std::move(model), exchange, executor, received);
  };
  auto on_error = [ctx](const Status& st) {
    const int status = api_error_from_status(st).status;
    ctx->metrics.count_request("ollama", outcome_of_status(status));
    return ollama_error(status, st.message());
  };
  return route_to_model(ctx, name, keep_alive, /*ollama_names=*/true, std::move(go), std::move(on_error),
                        std::move(exchange), std::move(executor));
}

// "2026-12-05T02:40:00.123Z" for a unix time in milliseconds.
std::string rfc3339(uint64_t unix_ms) {
  const std::time_t secs = std::time_t(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(unix_ms % 1000));
  return buf;
}

// When Ollama's /api/ps says a model unloads: its expiry; for a busy model,
// now plus its keep-alive; for one kept forever, a date far away (as Ollama).
std::string ps_expires_at(const ModelInfo& m) {
  if (m.expires_unix_ms > 0) return rfc3339(m.expires_unix_ms);
  if (m.keep_alive_ms < 0) return "2318-01-01T00:00:00.000Z";
  const auto now = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  return rfc3339(now + uint64_t(m.keep_alive_ms));
}

// GET /api/ps: the loaded (ready) models with their size and when they unload.
Routed route_ollama_ps(const std::shared_ptr<ServerContext>& ctx, const ApiRequest& req) {
  auto now = [&](ApiReply reply) {
    ctx->metrics.count_request("ollama", outcome_of_status(reply.status));
    return Routed{std::move(reply), nullptr};
  };
  const ApiKeys& keys = ctx->options.api_keys;
  if (keys.enabled() && keys.role_of(req.authorization) == KeyRole::kNone) {
    return now(error_reply(unauthorized("missing or invalid API key: send 'Authorization: Bearer KEY'")));
  }
  if (req.method != verb::get) {
    ApiReply r = ollama_error(405, std::string(boost::beast::http::to_string(req.method)) + " /api/ps is not allowed; use GET");
    r.headers.emplace_back("Allow", "GET");
    return now(std::move(r));
  }
  auto models = ctx->backend.list_models();
  if (!models.ok()) return now(ollama_error(api_error_from_status(models.status()).status, models.status().message()));
  json list = json::array();
  for (const auto& m : *models) {
    if (m.state != ModelState::kReady) continue;
    list.push_back({{"name", m.name},
                    {"model", m.name},
                    {"size", m.memory_bytes},
                    {"size_vram", m.device == "cuda" ? m.memory_bytes : 0},
                    {"context_length", m.context_length},
                    {"expires_at", ps_expires_at(m)}});
  }
  return now(ApiReply{200, "application/json; charset=utf-8", json_text(json{{"models", list}}), {}});
}

}  // namespace

ApiReply error_reply(const ApiError& error) {
  ApiReply r{error.status, "application/json", api_error_body(error), {}};
  if (error.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

std::string_view endpoint_of(std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (path == "/api/generate" || path == "/api/chat" || path == "/api/ps" || path == "/api/pull") return "ollama";
  if (auto r = find_route(path.substr(0, path.find('?')))) return r->endpoint;
  return "other";
}

Routed route_request(const std::shared_ptr<ServerContext>& ctx, ApiRequest req, std::weak_ptr<Exchange> exchange,
                     boost::asio::any_io_executor executor) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  const auto route = find_route(path);
  auto now = [&](ApiReply reply) {
    ctx->metrics.count_request(route ? route->endpoint : "other", outcome_of_status(reply.status));
    return Routed{std::move(reply), nullptr};
  };
  if (path == "/api/ps") return route_ollama_ps(ctx, req);
  if (path == "/api/pull") return route_ollama_pull(ctx, req, std::move(exchange), std::move(executor));
  if (path == "/api/generate" || path == "/api/chat") {
    return route_ollama_generation(ctx, std::move(req), path, std::move(exchange), std::move(executor));
  }
  if (is_ollama_store_path(path)) {  // Ollama's API: a user key when keys are on (not for its "/" probe)
    const ApiKeys& keys = ctx->options.api_keys;
    ApiReply reply = path != "/" && keys.enabled() && keys.role_of(req.authorization) == KeyRole::kNone
                         ? error_reply(unauthorized("missing or invalid API key: send 'Authorization: Bearer KEY'"))
                         : ollama_store_reply(ctx->options.models_dir, req.method, path, req.body);
    ctx->metrics.count_request("ollama", outcome_of_status(reply.status));
    return Routed{std::move(reply), nullptr};
  }
  if (!route) return now(error_reply(path_not_found("no such endpoint: " + path)));
  if (std::find(route->methods.begin(), route->methods.end(), req.method) == route->methods.end()) {
    ApiReply r = error_reply(method_not_allowed(std::string(boost::beast::http::to_string(req.method)) + " " + path +
                                                " is not allowed; use " + allow_header(route->methods)));
    r.headers.emplace_back("Allow", allow_header(route->methods));
    return now(std::move(r));
  }
  const ApiKeys& keys = ctx->options.api_keys;
  if (route->auth != Route::Auth::kNone && keys.enabled()) {
    const KeyRole role = keys.role_of(req.authorization);
    if (role == KeyRole::kNone) {
      return now(error_reply(unauthorized(req.authorization.empty()
                                              ? "missing API key: send the header 'Authorization: Bearer KEY'"
                                              : "invalid API key")));
    }
    if (route->auth == Route::Auth::kAdmin && role != KeyRole::kAdmin) {
      return now(error_reply(forbidden(path + " needs an admin key")));
    }
  }

  GenerationBackend& backend = ctx->backend;
  if (path == "/health/live") return now(json_reply(200, {{"status", "ok"}}));
  if (path == "/health/ready") return now(health_ready(backend));
  if (path == "/metrics") {
    auto stats = backend.stats();
    ApiReply r{200, "text/plain; version=0.0.4; charset=utf-8", ctx->metrics.render(stats.ok() ? &*stats : nullptr), {}};
    return now(std::move(r));
  }
  if (path == kV1Models) return now(list_models(backend, false));
  if (path.starts_with("/v1/models/")) return now(get_model(backend, path.substr(kV1Models.size() + 1)));
  if (path == kAdminModels && req.method == verb::get) return now(list_models(backend, true));
  if (path == kAdminModels) {
    auto load = parse_load(req.body);
    if (!load.ok()) return now(error_reply(bad_request(load.status().message())));
    return Routed{std::nullopt, std::make_shared<AdminCall>(ctx, std::move(*load), "", exchange, executor)};
  }
  if (path.starts_with("/admin/models/")) {
    std::string name = path.substr(kAdminModels.size() + 1);
    return Routed{std::nullopt, std::make_shared<AdminCall>(ctx, LoadParams{}, std::move(name), exchange, executor)};
  }

  if (path == "/apply-template") {  // rendering may take a while: on the prompt pool
    return Routed{std::nullopt,
                  std::make_shared<PooledCall>(ctx, std::string(route ? route->endpoint : "apply_template"),
                                               [&backend, body = std::move(req.body)] { return apply_template(backend, body); },
                                               exchange, executor)};
  }

  // /v1/completions and /v1/chat/completions
  const ApiKind kind = path == "/v1/chat/completions" ? ApiKind::kChat : ApiKind::kCompletion;
  auto request = parse_completion_request(req.body, kind);
  if (!request.ok()) return now(error_reply(bad_request(request.status().message())));
  const std::string name = request->model;
  auto go = [ctx, request = std::move(*request), exchange, executor, received = req.received](
                ModelInfo model, uint64_t reservation) mutable -> Routed {
    request.reservation = reservation;
    return Routed{std::nullopt, std::make_shared<CompletionCall>(ctx, std::move(request), std::move(model), exchange,
                                                                 executor, received)};
  };
  auto on_error = [ctx, endpoint = std::string(route->endpoint)](const Status& st) {
    ApiReply r = model_error(st);
    ctx->metrics.count_request(endpoint, outcome_of_status(r.status));
    return r;
  };
  return route_to_model(ctx, name, "", /*ollama_names=*/false, std::move(go), std::move(on_error), exchange, executor);
}

}  // namespace llmos::http
