#include "pull_call.hpp"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "completion_response.hpp"
#include "llmos/model/model_pull.hpp"
#include "llmos/model/model_store.hpp"
#include "metrics.hpp"

namespace llmos::http {
namespace {

using nlohmann::json;
using verb = boost::beast::http::verb;
using Clock = std::chrono::steady_clock;

// Progress lines at most this often (the download reports every 100 ms).
constexpr auto kProgressInterval = std::chrono::milliseconds(250);

bool is_pull_source(std::string_view s) { return s.starts_with("hf:") || s.find("://") != std::string_view::npos; }

ApiReply ollama_error(int status, const std::string& message) {
  return ApiReply{status, "application/json; charset=utf-8", json_text(json{{"error", message}}), {}};
}

int http_status_of(const Status& st) {
  switch (st.code()) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kOverloaded: return 409;
    case ErrorCode::kDisconnected: return 503;
    case ErrorCode::kFailed: return 502;  // the source failed: HTTP error, network, cancelled
    default: return 500;
  }
}

struct PullJobInput {
  std::string models_dir;
  std::string hf_endpoint;
  std::string model;
};

PullEvent pull_done(Status st) {
  PullEvent e;
  e.kind = PullEvent::Kind::kDone;
  e.http_status = st.ok() ? 200 : http_status_of(st);
  e.result = std::move(st);
  return e;
}

// The pull itself, on its own thread: its steps through `emit`; returns the last (a kDone).
PullEvent run_pull(const PullJobInput& in, const std::atomic<bool>& stop, const std::atomic<bool>& server_stopping,
                   const std::function<void(PullEvent)>& emit) {
  auto stage = [&](std::string_view status) {
    PullEvent e;
    e.status = std::string(status);
    emit(std::move(e));
  };
  if (in.models_dir.empty())
    return pull_done(not_found("this server has no model store (start it with --models-dir or LLMOS_MODELS)"));
  auto store = model::ModelStore::open(in.models_dir);
  if (!store.ok()) return pull_done(internal_error(store.status().message()));
  if (!is_pull_source(in.model)) {  // a stored model: nothing to fetch (llmos has no registry to ask for updates)
    auto name = model::parse_model_name(in.model);
    if (!name.ok()) return pull_done(name.status());
    stage("pulling manifest");
    auto m = store->find(*name);
    if (!m.ok())
      return pull_done(not_found(m.status().message() +
                            "; llmos pulls from an http(s):// URL or hf:ORG/REPO/FILE.gguf, not from a registry"));
    return pull_done(ok_status());
  }
  stage("pulling manifest");
  model::PullRequest request;
  request.source = in.model;
  request.hf_endpoint = in.hf_endpoint;
  model::DownloadHooks hooks;
  Clock::time_point last{};
  hooks.progress = [&](uint64_t completed, uint64_t total) {
    const auto now = Clock::now();
    if (last != Clock::time_point{} && now - last < kProgressInterval && (total == 0 || completed < total)) return;
    last = now;
    PullEvent e;
    e.kind = PullEvent::Kind::kProgress;
    e.completed = completed;
    e.total = total;
    emit(std::move(e));
  };
  hooks.cancelled = [&] { return stop.load() || server_stopping.load(); };
  auto pulled = model::pull_model(*store, request, hooks, stage);
  return pull_done(pulled.ok() ? ok_status() : pulled.status());
}

}  // namespace

Result<OllamaPullRequest> parse_ollama_pull_request(std::string_view body) {
  json obj = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded() || !obj.is_object()) return invalid_argument("the request body must be a JSON object");
  for (const auto& [key, value] : obj.items()) {
    if (key != "model" && key != "name" && key != "stream" && key != "insecure")
      return invalid_argument("unknown field '" + key + "' (/api/pull takes model, stream and insecure)");
  }
  OllamaPullRequest r;
  for (const char* field : {"model", "name"}) {
    if (!obj.contains(field) || obj[field].is_null()) continue;
    if (!obj[field].is_string() || obj[field].get<std::string>().empty())
      return invalid_argument(std::string("'") + field + "' must be a non-empty string");
    if (!r.model.empty() && r.model != obj[field].get<std::string>())
      return invalid_argument("'model' and 'name' name different models");
    r.model = obj[field].get<std::string>();
  }
  if (r.model.empty())
    return invalid_argument("'model' must be an http(s):// URL, hf:ORG/REPO/FILE.gguf or a stored model's name");
  if (obj.contains("stream") && !obj["stream"].is_null()) {
    if (!obj["stream"].is_boolean()) return invalid_argument("'stream' must be a boolean");
    r.stream = obj["stream"].get<bool>();
  }
  if (obj.contains("insecure") && !obj["insecure"].is_null()) {
    if (!obj["insecure"].is_boolean()) return invalid_argument("'insecure' must be a boolean");
    if (obj["insecure"].get<bool>())
      return invalid_argument("'insecure': true is not supported: llmos always checks TLS certificates "
                              "(trust a private CA through SSL_CERT_FILE)");
  }
  return r;
}

PullCall::PullCall(std::shared_ptr<ServerContext> ctx, OllamaPullRequest request, std::string key, std::string file,
                   std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor)
    : ctx_(std::move(ctx)),
      request_(std::move(request)),
      key_(std::move(key)),
      file_(std::move(file)),
      exchange_(std::move(exchange)),
      executor_(std::move(executor)) {}

void PullCall::start() {
  auto emit = strand_callback<PullCall, PullEvent>(ctx_->gate, weak_from_this(),
                                                   [](PullCall& c, PullEvent e) { c.on_event(std::move(e)); });
  PullJobInput in{ctx_->options.models_dir, ctx_->options.hf_endpoint, request_.model};
  auto last = std::make_shared<PullEvent>();
  auto work = [in = std::move(in), stop = stop_, emit, last](const std::atomic<bool>& server_stopping) {
    *last = run_pull(in, *stop, server_stopping, emit);
  };
  // Reported once the source's key is free: a client that pulls it again at once is not refused.
  auto report = [emit, last] { emit(std::move(*last)); };
  Status st = ctx_->pulls.start(key_, std::move(work), std::move(report));
  if (!st.ok()) {  // answered from the strand's queue, after start() has returned
    PullEvent e;
    e.kind = PullEvent::Kind::kDone;
    e.http_status = http_status_of(st);
    e.result = Status(st.code(), request_.model + ": " + st.message());
    boost::asio::post(executor_, [self = shared_from_this(), e = std::move(e)] { self->finish(e); });
  }
}

void PullCall::cancel() {
  cancelled_ = true;
  stop_->store(true);
}

void PullCall::on_event(PullEvent e) {
  if (cancelled_ || finished_) return;
  switch (e.kind) {
    case PullEvent::Kind::kStage:
      if (!request_.stream) return;
      if (!streaming_ && e.status == "pulling manifest") {
        held_ += json_text({{"status", e.status}}) + "\n";
        return;
      }
      begin_stream();
      write_line(json_text({{"status", e.status}}));
      return;
    case PullEvent::Kind::kProgress:
      if (!request_.stream) return;
      begin_stream();
      {
        json line = {{"status", "downloading " + file_}, {"completed", e.completed}};
        if (e.total > 0) line["total"] = e.total;
        write_line(json_text(line));
      }
      return;
    case PullEvent::Kind::kDone: finish(e); return;
  }
}

void PullCall::begin_stream() {
  if (streaming_) return;
  streaming_ = true;
  auto ex = exchange_.lock();
  if (!ex) return;
  ex->stream_begin("application/x-ndjson");
  if (!held_.empty()) ex->stream_write(std::move(held_));
  held_.clear();
}

void PullCall::write_line(const std::string& line) {
  if (auto ex = exchange_.lock()) ex->stream_write(line + "\n");
}

void PullCall::finish(const PullEvent& done) {
  if (finished_) return;
  finished_ = true;
  const int status = done.result.ok() ? 200 : done.http_status;
  ctx_->metrics.count_request("ollama", outcome_of_status(status));
  if (cancelled_) return;
  auto ex = exchange_.lock();
  if (!ex) return;
  const json last = done.result.ok() ? json{{"status", "success"}} : json{{"error", done.result.message()}};
  if (!request_.stream || (!streaming_ && !done.result.ok())) {
    ex->reply(ApiReply{status, "application/json; charset=utf-8", json_text(last), {}});
    return;
  }
  begin_stream();
  ex->stream_write(json_text(last) + "\n");
  ex->stream_end();
}

Routed route_ollama_pull(const std::shared_ptr<ServerContext>& ctx, const ApiRequest& req,
                         std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor) {
  auto now = [&](ApiReply reply) {
    ctx->metrics.count_request("ollama", outcome_of_status(reply.status));
    return Routed{std::move(reply), nullptr};
  };
  const ApiKeys& keys = ctx->options.api_keys;
  if (keys.enabled() && keys.role_of(req.authorization) == KeyRole::kNone)
    return now(error_reply(unauthorized("missing or invalid API key: send 'Authorization: Bearer KEY'")));
  if (req.method != verb::post) {
    ApiReply r = ollama_error(405, std::string(boost::beast::http::to_string(req.method)) +
                                       " /api/pull is not allowed; use POST");
    r.headers.emplace_back("Allow", "POST");
    return now(std::move(r));
  }
  auto request = parse_ollama_pull_request(req.body);
  if (!request.ok()) return now(ollama_error(400, request.status().message()));
  std::string key, file;
  if (is_pull_source(request->model)) {
    auto source = model::resolve_pull_source(request->model, ctx->options.hf_endpoint);
    if (!source.ok()) return now(ollama_error(400, source.status().message()));
    key = source->url.str();
    const std::string path = source->url.target.substr(0, source->url.target.find('?'));
    file = path.substr(path.rfind('/') + 1);
  } else {
    key = "name:" + request->model;
    file = request->model;
  }
  return Routed{std::nullopt, std::make_shared<PullCall>(ctx, std::move(*request), std::move(key), std::move(file),
                                                         std::move(exchange), std::move(executor))};
}

}  // namespace llmos::http
