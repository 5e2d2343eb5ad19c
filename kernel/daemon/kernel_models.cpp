// KernelServer: model lifecycle (load, unload, failures of a model service).
#include <boost/asio/post.hpp>

#include "kernel_server.hpp"

namespace llmos::kernel {
namespace {

// The file's stem with anything outside [A-Za-z0-9._-] replaced by '_'.
std::string default_name(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  for (char& c : stem) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (stem.size() > 64) stem.resize(64);
  return stem.empty() ? "model" : stem;
}

}  // namespace

void KernelServer::send_progress(const Waiter& w, const std::string& name, const std::string& phase,
                                 uint64_t done) {
  if (w.peer.empty()) return;  // a load on demand: its requests wait for the end
  ipc::OutgoingMessage out(w.request_id);
  auto p = out.body().initLoadProgress();
  p.setName(ipc::as_text(name));
  p.setPhase(ipc::as_text(phase));
  p.setDone(done);
  p.setTotal(4);  // validating, reserving, starting, ready
  (void)send_to(w.peer, out);
}

void KernelServer::on_load(const ipc::DecodedMessage& m) {
  auto req = m.body().getLoadModel();
  Waiter w{std::string(m.peer()), m.request_id()};
  if (shutting_down_) return send_error(w.peer, w.request_id, disconnected("llmosd is shutting down"));
  const std::string path = ipc::to_string(req.getPath());
  if (path.empty()) return send_error(w.peer, w.request_id, invalid_argument("load: no model file given"));
  if (path.front() != '/') {
    return send_error(w.peer, w.request_id,
                      invalid_argument("load: the model path '" + path + "' must be absolute"));
  }
  ModelSpec spec;
  spec.path = path;
  spec.name = req.getName().size() ? ipc::to_string(req.getName()) : default_name(path);
  spec.threads = req.getThreads();
  spec.chat_template_file = ipc::to_string(req.getChatTemplateFile());
  // The model service finds out what the device can do (cuda: unimplemented
  // without the driver or a GPU; auto: the CPU then) and says so in its Hello.
  spec.device = req.getDevice() == wire::Device::CUDA ? Device::kCuda : Device::kCpu;
  const std::string device = req.getDevice() == wire::Device::CUDA   ? "cuda"
                             : req.getDevice() == wire::Device::AUTO ? "auto"
                                                                     : "cpu";
  if (const ModelRecord* r = registry_.find(spec.name);
      (r && (r->state == ModelState::kLoading || r->state == ModelState::kReady ||
             r->state == ModelState::kDraining)) ||
      models_.count(spec.name) || load_in_progress(spec.name)) {
    return send_error(w.peer, w.request_id,
                      invalid_argument("a model named '" + spec.name +
                                       "' is already loaded or loading; unload it first or choose another --name"));
  }
  start_load(std::move(w), std::move(spec), req.getCtx(), device, config_.keep_alive);
}

void KernelServer::start_load(Waiter w, ModelSpec spec, uint32_t ctx, const std::string& device,
                              KeepAlive keep_alive) {
  if (auto old = supervisor_.status("model:" + spec.name)) {
    if (!supervisor_.remove("model:" + spec.name).ok()) {
      return load_failed(w, spec.name,
                         overloaded("the previous service of model '" + spec.name + "' is still stopping; retry"));
    }
  }
  load_waiters_[spec.name];  // the load is under way
  send_progress(w, spec.name, "validating", 1);
  const uint32_t block_size = config_.block_size;
  const uint32_t max_seqs = config_.max_seqs_per_model;  // what the model service is started with
  boost::asio::post(pool_, [this, w, spec, ctx, block_size, max_seqs, device, keep_alive]() mutable {
    auto facts = inspect_model(spec.path, ctx, block_size, max_seqs);
    boost::asio::post(io_, [this, w = std::move(w), spec = std::move(spec), facts = std::move(facts), device,
                            keep_alive]() mutable {
      on_inspected(std::move(w), std::move(spec), device, std::move(facts), keep_alive);
    });
  });
}

void KernelServer::on_inspected(Waiter w, ModelSpec spec, const std::string& device, Result<ModelFacts> facts,
                                KeepAlive keep_alive) {
  if (shutting_down_) return load_failed(w, spec.name, disconnected("llmosd is shutting down"));
  if (!facts.ok()) {
    log_.warn("load of '" + spec.path + "' refused: " + facts.status().to_string());
    return load_failed(w, spec.name, facts.status());
  }
  if (models_.count(spec.name)) {
    return load_failed(w, spec.name,
                       invalid_argument("a model named '" + spec.name + "' is already loaded or loading"));
  }
  spec.ctx = facts->ctx;
  admit_load(PendingLoad{std::move(w), std::move(spec), device, std::move(facts).value(), keep_alive});
}

void KernelServer::begin_load(PendingLoad p) {
  const Waiter& w = p.waiter;
  ModelSpec& spec = p.spec;
  const std::string name = spec.name;
  if (Status st = registry_.begin_load(spec, p.facts.memory); !st.ok()) {
    log_.warn("load of '" + spec.path + "' refused: " + st.message());
    return load_failed(w, name, st);
  }
  send_progress(w, name, "reserving", 2);
  const KvGeometry& layout = p.facts.kv;
  auto arena = ipc::KvArenaOwner::create(ipc::kv_arena_name(config_.runtime_dir, name), layout);
  if (!arena.ok()) {
    (void)registry_.mark_failed(name, arena.status().message());
    return load_failed(w, name, arena.status());
  }
  residency_.add(name, p.facts.memory.total(), p.keep_alive, clock_.now());
  ModelRuntime& rt = models_[name];
  rt.name = name;
  rt.service = "model:" + name;
  rt.facts = std::move(p.facts);
  rt.requested_device = p.device;
  rt.threads = spec.threads;
  rt.loaded_unix_ms = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
  rt.arena.emplace(std::move(arena).value());
  if (!w.peer.empty()) rt.load_waiter = w;
  send_progress(w, name, "starting", 3);
  std::vector<std::string> args = {"--name", name, "--path", spec.path, "--ctx", std::to_string(spec.ctx),
                                   "--threads", std::to_string(spec.threads), "--max-seqs",
                                   std::to_string(config_.max_seqs_per_model), "--device", p.device};
  Status st = supervisor_.add({rt.service, service_argv("llmos-model", std::move(args))});
  if (!st.ok()) {
    (void)supervisor_.stop(rt.service);
    on_model_load_error(rt, st);
    return;
  }
  log_.info("loading model '" + name + "' from " + spec.path + " (weights " +
            std::to_string(rt.facts.memory.weights_bytes) + " bytes, KV " +
            std::to_string(rt.facts.memory.kv_bytes) + " bytes for " + std::to_string(spec.ctx) + " tokens)");
  tick();  // reports the start (and may already end the load: `rt` is not used after)
}

void KernelServer::on_model_hello(ModelRuntime& model) {
  model.service_up = true;
  const ModelRecord* record = registry_.find(model.name);
  if (record && record->state == ModelState::kLoading) {
    (void)registry_.mark_ready(model.name);
    residency_.mark_loaded(model.name, clock_.now());
    ModelLimits limits;
    limits.ctx = model.facts.ctx;
    limits.max_running = config_.max_seqs_per_model;
    (void)scheduler_.add_model(model.name, limits);
    log_.info("model '" + model.name + "' is ready");
    if (model.load_waiter) {
      ipc::OutgoingMessage out(model.load_waiter->request_id);
      fill_model_info(out.body().initModelInfo(), *registry_.find(model.name));
      (void)send_to(model.load_waiter->peer, out);
      model.load_waiter.reset();
    }
    if (io_up_) {  // news for llmos-io: it caches the model's tokenizer now
      ipc::OutgoingMessage news(next_request_id_++);
      fill_model_info(news.body().initModelInfo(), *registry_.find(model.name));
      (void)send_to("io", news);
    }
    answer_load_waiters(model.name);
    return;
  }
  // A restarted service: what its predecessor was running goes out again.
  (void)scheduler_.set_paused(model.name, false);
  pump();
}

void KernelServer::on_model_service_exit(ModelRuntime& model, const std::string& how) {
  model.service_up = false;
  const ModelRecord* record = registry_.find(model.name);
  if (record && record->state == ModelState::kLoading) {
    // A service that cannot load sends its reason (say, no CUDA device) and
    // exits: the exit can be seen before the report is read. The report is
    // the better error, so it gets a moment to arrive first.
    Status exited = failed("llmos-model for '" + model.name + "' " + how + " while loading; see " +
                           (config_.runtime_dir / "llmosd.log").string());
    auto grace = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(300));
    grace->async_wait([this, grace, name = model.name, exited](const boost::system::error_code& ec) {
      if (ec) return;
      auto it = models_.find(name);
      const ModelRecord* r = registry_.find(name);
      if (it == models_.end() || r == nullptr || r->state != ModelState::kLoading || it->second.service_up) return;
      on_model_load_error(it->second, exited);
    });
    return;
  }
  (void)scheduler_.set_paused(model.name, true);
  auto crash = scheduler_.requeue_after_crash(model.name, clock_.now());
  if (!crash.requeued.empty()) {
    log_.warn("model '" + model.name + "': re-dispatching " + std::to_string(crash.requeued.size()) +
              " request(s) when its service is back");
  }
  if (crash.cancelled.empty()) return;
  for (const auto& r : crash.cancelled) {  // the cancel they were waiting for is done
    generated_tokens_ += r.generated.size();
    ++cancelled_;
    send_final_event(r.request.id, wire::FinishReason::CANCELLED, ok_status(), r.prompt_tokens());
  }
  // A draining model may have nothing left now; checked after this exit is handled.
  boost::asio::post(io_, [this, name = model.name] {
    if (auto it = models_.find(name); it != models_.end()) check_drained(it->second);
  });
}

void KernelServer::on_model_load_error(ModelRuntime& model, const Status& st) {
  const ModelRecord* record = registry_.find(model.name);
  if (record == nullptr || record->state != ModelState::kLoading) {
    fail_model(model, st);
    return;
  }
  const std::string name = model.name;
  log_.warn("model '" + name + "' failed to load: " + st.to_string());
  (void)supervisor_.stop(model.service);
  (void)registry_.mark_failed(name, st.message());
  residency_.remove(name);
  if (model.load_waiter) send_error(model.load_waiter->peer, model.load_waiter->request_id, st);
  models_.erase(name);  // unlinks its arena
  load_failed(Waiter{}, name, st);
  retry_pending_loads();
}

void KernelServer::fail_model(ModelRuntime& model, const Status& why) {
  const std::string name = model.name;
  log_.error("model '" + name + "' failed: " + why.to_string());
  (void)registry_.mark_failed(name, why.message());
  for (const auto& r : scheduler_.remove_model(name)) {
    send_final_event(r.request.id, wire::FinishReason::ERROR,
                     Status(why.code(), "model '" + name + "' failed: " + why.message()),
                     uint32_t(r.request.prompt.size()));
    ++failed_;
  }
  (void)supervisor_.stop(model.service);
  if (model.load_waiter) send_error(model.load_waiter->peer, model.load_waiter->request_id, why);
  for (const auto& w : model.unload_waiters) send_error(w.peer, w.request_id, why);
  notify_io_model_gone(name, ModelState::kFailed);
  residency_.remove(name);
  models_.erase(name);
  load_failed(Waiter{}, name, why);
  fail_reload(name, Status(why.code(), "model '" + name + "' failed while unloading: " + why.message()));
  retry_pending_loads();
}

void KernelServer::on_unload(const ipc::DecodedMessage& m) {
  Waiter w{std::string(m.peer()), m.request_id()};
  const std::string name = ipc::to_string(m.body().getUnloadModel().getName());
  const ModelRecord* record = registry_.find(name);
  if (record == nullptr) return send_error(w.peer, w.request_id, not_found("no model named '" + name + "' is loaded"));
  switch (record->state) {
    case ModelState::kLoading:
      return send_error(w.peer, w.request_id,
                        invalid_argument("model '" + name + "' is still loading; unload it when it is ready"));
    case ModelState::kFailed:
    case ModelState::kUnloaded: {
      ipc::OutgoingMessage out(w.request_id);
      fill_model_info(out.body().initModelInfo(), *record);
      out.body().getModelInfo().setState(wire::ModelState::UNLOADED);
      (void)registry_.forget(name);
      (void)send_to(w.peer, out);
      return;
    }
    case ModelState::kReady:
    case ModelState::kDraining:
      break;
  }
  const bool ready = record->state == ModelState::kReady;
  auto it = models_.find(name);
  if (it == models_.end()) return send_error(w.peer, w.request_id, internal_error("model '" + name + "' has no runtime"));
  // The waiter first: an idle model's unload may end inside begin_unload.
  it->second.unload_waiters.push_back(w);
  if (ready) return begin_unload(name, "draining for unload");
  check_drained(it->second);
}

void KernelServer::check_drained(ModelRuntime& model) {
  const ModelRecord* record = registry_.find(model.name);
  if (!record || record->state != ModelState::kDraining || model.unloading) return;
  auto load = scheduler_.load(model.name);
  if (load && (load->queued > 0 || load->running > 0)) return;
  model.unloading = true;
  (void)supervisor_.stop(model.service);
  tick();  // a service that was not running is stopped at once
}

void KernelServer::finish_unload(ModelRuntime& model) {
  const std::string name = model.name;
  for (const auto& r : scheduler_.remove_model(name)) {
    send_final_event(r.request.id, wire::FinishReason::ERROR, failed("model '" + name + "' was unloaded"),
                     uint32_t(r.request.prompt.size()));
  }
  (void)registry_.mark_unloaded(name);
  if (const ModelRecord* record = registry_.find(name)) {
    for (const auto& w : model.unload_waiters) {
      ipc::OutgoingMessage out(w.request_id);
      fill_model_info(out.body().initModelInfo(), *record);
      (void)send_to(w.peer, out);
    }
  }
  (void)registry_.forget(name);
  (void)supervisor_.remove(model.service);
  notify_io_model_gone(name, ModelState::kUnloaded);
  log_.info("model '" + name + "' unloaded");
  residency_.remove(name);
  models_.erase(name);
  retry_pending_loads();
  reload_after_unload(name);
}

void KernelServer::notify_io_model_gone(const std::string& name, ModelState state) {
  if (!io_up_) return;
  ipc::OutgoingMessage out(next_request_id_++);
  auto info = out.body().initModelInfo();
  info.setName(ipc::as_text(name));
  info.setState(ipc::to_wire(state));
  (void)send_to("io", out);
}

void KernelServer::on_list_models(const ipc::DecodedMessage& m) {
  refresh_residency();
  auto records = registry_.list();
  ipc::OutgoingMessage out(m.request_id());
  auto list = out.body().initModelList().initModels(uint32_t(records.size()));
  for (size_t i = 0; i < records.size(); ++i) fill_model_info(list[uint32_t(i)], records[i]);
  (void)send_to(std::string(m.peer()), out);
}

void KernelServer::fill_model_info(wire::ModelInfo::Builder out, const ModelRecord& record) const {
  out.setName(ipc::as_text(record.spec.name));
  out.setPath(ipc::as_text(record.spec.path));
  out.setChatTemplateFile(ipc::as_text(record.spec.chat_template_file));
  out.setState(ipc::to_wire(record.state));
  out.setFailure(ipc::as_text(record.failure));
  out.setDevice(record.spec.device == Device::kCuda ? wire::Device::CUDA : wire::Device::CPU);  // as asked
  out.setCtx(record.spec.ctx);
  out.setThreads(record.spec.threads);
  out.setWeightsBytes(record.memory.weights_bytes);
  out.setKvBytes(record.memory.kv_bytes);
  if (auto load = scheduler_.load(record.spec.name)) {
    out.setActiveSequences(load->running);
    out.setQueuedSequences(load->queued);
  }
  auto it = models_.find(record.spec.name);
  if (it != models_.end() && it->second.device) {  // as it runs
    out.setDevice(*it->second.device == Device::kCuda ? wire::Device::CUDA : wire::Device::CPU);
  }
  if (it != models_.end()) {
    out.setTokensPerSecond(it->second.active > 0 || it->second.tokens_per_second > 0.5f
                               ? it->second.tokens_per_second
                               : 0.0f);
    out.setVocabSize(it->second.facts.vocab_size);
    out.setKvBlocksUsed(it->second.kv_blocks_used);
    out.setKvBlocksTotal(it->second.kv_blocks_total);
    out.setLoadedUnixMs(it->second.loaded_unix_ms);
    if (auto s = supervisor_.status(it->second.service)) out.setServicePid(uint32_t(s->pid));
  }
  fill_residency(out, record.spec.name);
}

}  // namespace llmos::kernel
