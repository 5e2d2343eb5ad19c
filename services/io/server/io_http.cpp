// IoServer: the HTTP API's side. The server itself (started in start(), and
// retried while its address is taken), HTTP generations as streams, loads and
// unloads through the kernel, and the snapshot of models and statistics that
// IpcBackend answers from.
#include <unistd.h>

#include <fstream>

#include "io_server.hpp"
#include "ipc_backend.hpp"

namespace llmos::io_service {
namespace {

using Body = wire::Envelope::Body;
using namespace std::chrono_literals;
constexpr auto kHttpRetry = 2s;

std::optional<ModelSnapshot> to_snapshot(wire::ModelInfo::Reader m) {
  ModelSnapshot s;
  s.info.state = ipc::from_wire(m.getState());
  if (s.info.state == ModelState::kUnloaded) return std::nullopt;
  s.info.name = ipc::to_string(m.getName());
  s.info.path = ipc::to_string(m.getPath());
  s.info.device = m.getDevice() == wire::Device::CUDA ? "cuda" : "cpu";
  s.info.memory_bytes = s.info.state == ModelState::kFailed ? 0 : m.getWeightsBytes() + m.getKvBytes();
  s.info.context_length = int(m.getCtx());
  s.info.created = int64_t(m.getLoadedUnixMs() / 1000);
  s.info.error = ipc::to_string(m.getFailure());
  s.info.last_use_unix_ms = m.getLastUseUnixMs();
  s.info.expires_unix_ms = m.getExpiresUnixMs();
  s.info.keep_alive_ms = m.getKeepAliveMs();
  s.vocab_size = m.getVocabSize();
  s.chat_template_file = ipc::to_string(m.getChatTemplateFile());
  s.stats.name = s.info.name;
  s.stats.queued = int(m.getQueuedSequences());
  s.stats.running = int(m.getActiveSequences());
  s.stats.kv_blocks_used = int(m.getKvBlocksUsed());
  s.stats.kv_blocks_free = int(m.getKvBlocksTotal()) - int(m.getKvBlocksUsed());
  s.stats.memory_bytes = s.info.memory_bytes;
  s.stats.state = s.info.state;
  s.stats.last_use_unix_ms = s.info.last_use_unix_ms;
  s.stats.expires_unix_ms = s.info.expires_unix_ms;
  return s;
}

}  // namespace

// ---- the server --------------------------------------------------------------

Status IoServer::start_http() {
  auto server = Result<std::unique_ptr<http::HttpServer>>(failed("not started"));
  if (previous_http_port_ != 0) {
    http::HttpServerOptions again = *options_.http;
    again.port = previous_http_port_;
    server = http::HttpServer::start(*backend_, std::move(again));
    previous_http_port_ = 0;
  }
  if (!server.ok()) server = http::HttpServer::start(*backend_, *options_.http);
  if (!server.ok()) return server.status();
  http_server_ = std::move(server).value();
  write_http_url();
  log_.info("HTTP API on http://" + options_.http->address + ":" + std::to_string(http_server_->port()));
  return ok_status();
}

void IoServer::retry_http() {
  http_retry_.expires_after(kHttpRetry);
  http_retry_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (Status st = start_http(); !st.ok()) return retry_http();  // said once, in start()
  });
}

void IoServer::write_http_url() {
  // http.url tells `llmos up` and tests where the API listens (port 0 picks
  // one). Written whole to a temporary name, then renamed into place.
  const std::string address = http_server_->address();
  const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  const auto path = runtime_dir_ / "http.url";
  const auto tmp = runtime_dir_ / ("http.url." + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "http://" << host << ":" << http_server_->port() << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) log_.warn("writing " + path.string() + ": " + ec.message());
}

// ---- generations -------------------------------------------------------------

void IoServer::start_http_stream(uint64_t id, http::GenerationParams params, ModelTextPtr text,
                                 http::GenerationCallback on_event) {
  Stream s;
  s.id = id;
  s.http.emplace(HttpSink{std::move(on_event),
                          http::GenerationText(text->tok, std::move(params.stop), int(params.prompt.size()))});
  s.model = std::move(params.model);
  s.text = std::move(text);
  s.prompt_ids.assign(params.prompt.begin(), params.prompt.end());
  s.sampling = params.sampling;
  s.max_tokens = uint32_t(params.max_tokens);
  s.priority = params.priority;
  s.keep_alive = std::move(params.keep_alive);
  s.reservation = params.reservation;
  auto [it, inserted] = streams_.emplace(id, std::move(s));
  submit(it->second);
}

void IoServer::cancel_stream(uint64_t id, const std::string& why) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  if (s.phase == Phase::kSubmitted) return cancel_at_kernel(s, why);
  end_stream(s, wire::FinishReason::CANCELLED, ok_status());
}

void IoServer::on_http_tokens(Stream& s, const std::vector<uint32_t>& fresh) {
  HttpSink& h = *s.http;
  for (size_t i = 0; i < fresh.size() && !h.text.ended(); ++i) {
    http::GenerationEvent ev = h.text.push(int32_t(fresh[i]));
    // A stop string: the client's answer ends here; the kernel's end of the
    // sequence (cancelled) only retires the stream.
    if (ev.done) cancel_at_kernel(s, "a stop string ended it");
    h.on_event(std::move(ev));
  }
}

void IoServer::send_http_final(Stream& s) {
  HttpSink& h = *s.http;
  if (!h.text.ended()) h.on_event(h.text.finish(ipc::from_wire(s.reason), s.error));
  erase_stream(s.id);
}

// ---- administration ------------------------------------------------------------

void IoServer::admin_load(http::LoadParams params, std::function<void(Status)> done) {
  // The template file is read by this service (when the model is ready), so
  // it must name one this process can read whatever its working directory.
  if (!params.chat_template_file.empty()) {
    if (params.chat_template_file.front() != '/') {
      return done(invalid_argument("the chat template file '" + params.chat_template_file + "' must be absolute"));
    }
    if (!std::ifstream(params.chat_template_file, std::ios::binary)) {
      return done(not_found("cannot read chat template file '" + params.chat_template_file + "'"));
    }
  }
  const uint64_t id = next_id();
  ipc::OutgoingMessage out(id);
  auto load = out.body().initLoadModel();
  load.setPath(ipc::as_text(params.path));
  load.setName(ipc::as_text(params.name));
  load.setCtx(uint32_t(std::max(0, params.ctx)));
  load.setThreads(uint32_t(std::max(0, params.threads)));
  load.setDevice(params.device == "cpu"    ? wire::Device::CPU
                 : params.device == "cuda" ? wire::Device::CUDA
                                           : wire::Device::AUTO);
  load.setChatTemplateFile(ipc::as_text(params.chat_template_file));
  if (Status st = kernel_->send(out.builder()); !st.ok()) return done(st);
  admin_calls_[id] = AdminCall{std::move(done), params.name, params.path};
}

void IoServer::admin_unload(std::string name, std::function<void(Status)> done) {
  const uint64_t id = next_id();
  ipc::OutgoingMessage out(id);
  out.body().initUnloadModel().setName(ipc::as_text(name));
  if (Status st = kernel_->send(out.builder()); !st.ok()) return done(st);
  admin_calls_[id] = AdminCall{std::move(done), std::move(name), {}};
}

void IoServer::admin_ensure(std::string name, std::string keep_alive,
                            std::function<void(Result<http::EnsuredModel>)> done) {
  const uint64_t id = next_id();
  ipc::OutgoingMessage out(id);
  auto ensure = out.body().initEnsureModel();
  ensure.setName(ipc::as_text(name));
  ensure.setKeepAlive(ipc::as_text(keep_alive));
  if (Status st = kernel_->send(out.builder()); !st.ok()) return done(st);
  admin_calls_[id] = AdminCall{nullptr, std::move(name), {}, std::move(done)};
}

bool IoServer::on_admin_reply(const ipc::DecodedMessage& m) {
  auto it = admin_calls_.find(m.request_id());
  if (it == admin_calls_.end()) return false;
  if (m.kind() == Body::LOAD_PROGRESS) return true;
  AdminCall call = std::move(it->second);
  admin_calls_.erase(it);
  if (call.ensured) {  // a load on demand answers with the loaded name
    call.done = [ensured = call.ensured, model = call.model](Status st) {
      if (st.ok()) return ensured(http::EnsuredModel{model, 0});
      ensured(st);
    };
  }
  if (m.kind() == Body::ERROR_REPLY) {
    call.done(ipc::to_status(m.body().getErrorReply().getError()));
    return true;
  }
  if (m.kind() != Body::MODEL_INFO) {
    call.done(internal_error("the kernel answered a load or unload with '" + std::string(ipc::body_name(m.kind())) + "'"));
    return true;
  }
  auto info = m.body().getModelInfo();
  auto snap = to_snapshot(info);
  if (!snap) {  // unloaded
    texts_.forget(call.model);
    if (backend_) backend_->remove_model(call.model);
    call.done(ok_status());
    return true;
  }
  if (backend_) backend_->upsert_model(*snap);
  if (call.ensured) {  // the model is reserved for the request until it submits or ends
    call.done = [this, ensured = call.ensured, loaded = snap->info.name,
                 reservation = info.getReservation()](Status st) {
      if (st.ok()) return ensured(http::EnsuredModel{loaded, reservation});
      release_reservation(reservation);
      ensured(st);
    };
  }
  // Ready once its text is cached too, so the first request after the load
  // does not wait for the vocabulary.
  // A chat template that cannot be rendered does not fail the load: plain
  // completions work, chat requests answer with the error, said once here.
  texts_.load(snap->info.name, snap->info.path, snap->chat_template_file,
              [this, name = snap->info.name, done = std::move(call.done)](Result<ModelTextPtr> text) {
                if (text.ok() && !(*text)->prompt_info.chat_template_error.empty()) {
                  log_.warn("model '" + name + "': " + (*text)->prompt_info.chat_template_error);
                }
                done(text.status());
              });
  return true;
}

// ---- the snapshot --------------------------------------------------------------

void IoServer::refresh_snapshot() {
  if (!backend_ || !kernel_) return;
  const uint64_t models_id = next_id(), stats_id = next_id();
  ipc::OutgoingMessage models(models_id);
  models.body().initListModels();
  if (kernel_->send(models.builder()).ok()) snapshot_models_query_ = models_id;
  ipc::OutgoingMessage stats(stats_id);
  stats.body().initGetStats();
  if (kernel_->send(stats.builder()).ok()) snapshot_stats_query_ = stats_id;
}

bool IoServer::on_snapshot_reply(const ipc::DecodedMessage& m) {
  if (!backend_) return false;
  if (m.kind() == Body::MODEL_LIST && m.request_id() == snapshot_models_query_) {
    std::vector<ModelSnapshot> models;
    for (auto info : m.body().getModelList().getModels()) {
      if (auto s = to_snapshot(info)) models.push_back(std::move(*s));
    }
    backend_->set_models(std::move(models));
    return true;
  }
  if (m.kind() == Body::STATS && m.request_id() == snapshot_stats_query_) {
    auto st = m.body().getStats();
    backend_->set_system_counters(st.getServiceRestarts(), ipc::engine_counters_from_wire(st.getEngineCounters()));
    return true;
  }
  return false;
}

}  // namespace llmos::io_service
