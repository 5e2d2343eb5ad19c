// KernelServer: which models stay loaded. Loads on demand (ensureModel from
// llmos-io, resolved through the model store), evicts idle models when a load
// does not fit (ModelResidency's plan), and unloads models idle past their
// keep-alive. In-flight counts come from the scheduler, which sees every
// request; a model an ensureModel answered ready is reserved for the asker
// until its Submit (or a releaseModel) comes; a request for a model that is
// unloading waits and loads it again (docs/microkernel.md, "Load on demand and
// eviction").
#include "kernel_server.hpp"
#include "llmos/model/model_store.hpp"

namespace llmos::kernel {
namespace {

uint64_t unix_ms_of(TimePoint t, TimePoint now) {
  const auto wall = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(t - now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  return ms > 0 ? uint64_t(ms) : 0;
}

}  // namespace

bool KernelServer::load_in_progress(std::string_view name) const {
  return load_waiters_.count(name) > 0 || reloads_.count(name) > 0;
}

void KernelServer::answer_ready(const Waiter& w, const ModelRecord& r) {
  ipc::OutgoingMessage out(w.request_id);
  auto info = out.body().initModelInfo();
  fill_model_info(info, r);
  auto reservation = residency_.reserve(r.spec.name, w.peer);
  if (reservation.ok()) info.setReservation(*reservation);
  if (!send_to(w.peer, out).ok() && reservation.ok()) (void)residency_.release(*reservation, clock_.now());
}

void KernelServer::on_release(const ipc::DecodedMessage& m) {
  (void)residency_.release(m.body().getReleaseModel().getReservation(), clock_.now());
}

void KernelServer::reload_after_unload(const std::string& name) {
  auto it = reloads_.find(name);
  if (it == reloads_.end()) return;
  Reload re = std::move(it->second);
  reloads_.erase(it);
  if (shutting_down_) {
    for (const Waiter& w : re.waiters) send_error(w.peer, w.request_id, disconnected("llmosd is shutting down"));
    return;
  }
  log_.info("loading model '" + name + "' again for " + std::to_string(re.waiters.size()) +
            " request(s) that came while it was unloading");
  auto& waiting = load_waiters_[name];
  waiting.insert(waiting.end(), re.waiters.begin(), re.waiters.end());
  const uint32_t ctx = re.spec.ctx;
  start_load(Waiter{}, std::move(re.spec), ctx, re.device, re.keep_alive);
}

void KernelServer::fail_reload(const std::string& name, const Status& why) {
  auto it = reloads_.find(name);
  if (it == reloads_.end()) return;
  std::vector<Waiter> waiting = std::move(it->second.waiters);
  reloads_.erase(it);
  for (const Waiter& w : waiting) send_error(w.peer, w.request_id, why);
}

void KernelServer::on_ensure(const ipc::DecodedMessage& m) {
  auto req = m.body().getEnsureModel();
  const Waiter w{std::string(m.peer()), m.request_id()};
  if (shutting_down_) return send_error(w.peer, w.request_id, disconnected("llmosd is shutting down"));
  const std::string asked = ipc::to_string(req.getName());
  if (asked.empty()) return send_error(w.peer, w.request_id, invalid_argument("ensureModel: no model named"));
  std::optional<KeepAlive> keep_alive;
  if (req.getKeepAlive().size() > 0) {
    auto k = parse_keep_alive(ipc::to_string(req.getKeepAlive()));
    if (!k.ok()) return send_error(w.peer, w.request_id, k.status());
    keep_alive = *k;
  }
  // The name as loaded, or its store form NAME:TAG ("tiny" is "tiny:latest").
  auto stored = model::parse_model_name(asked);
  std::vector<std::string> names = {asked};
  if (stored.ok() && stored->str() != asked) names.push_back(stored->str());
  std::optional<Status> failure;  // a model of that name failed: said when it is not stored either
  for (const std::string& name : names) {
    const ModelRecord* r = registry_.find(name);
    if (r && r->state == ModelState::kFailed && !failure) {
      failure = not_found("model '" + name + "' failed: " + r->failure);
    }
    if (r && r->state == ModelState::kReady) {
      if (keep_alive) (void)residency_.set_keep_alive(name, *keep_alive);
      return answer_ready(w, *r);
    }
    if (r && r->state == ModelState::kDraining) {
      // Its unload goes on (the memory may be needed); it loads again when
      // gone, once for every request that came meanwhile.
      auto [it, first] = reloads_.try_emplace(name);
      Reload& re = it->second;
      if (first) {
        re.spec = r->spec;
        auto rt = models_.find(name);
        re.device = rt != models_.end() ? rt->second.requested_device : "auto";
        re.keep_alive = config_.keep_alive;
        log_.info("model '" + name + "' is being unloaded; it loads again when it is gone");
      }
      if (keep_alive) re.keep_alive = *keep_alive;
      re.waiters.push_back(w);
      return;
    }
    if (load_in_progress(name)) {
      if (keep_alive) (void)residency_.set_keep_alive(name, *keep_alive);
      load_waiters_[name].push_back(w);
      return;
    }
  }
  if (!stored.ok()) {
    return send_error(w.peer, w.request_id,
                      failure ? *failure : not_found("no model named '" + asked + "' is loaded or stored"));
  }
  if (failure && config_.models_dir.empty()) return send_error(w.peer, w.request_id, *failure);
  if (config_.models_dir.empty()) {
    return send_error(w.peer, w.request_id,
                      not_found("no model named '" + asked +
                                "' is loaded, and llmosd has no model store (--models-dir, LLMOS_MODELS)"));
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(config_.models_dir, ec)) {  // not created for a look-up
    if (failure) return send_error(w.peer, w.request_id, *failure);
    return send_error(w.peer, w.request_id,
                      not_found("model '" + stored->str() + "' is not loaded, and the model store " +
                                config_.models_dir + " does not exist"));
  }
  auto store = model::ModelStore::open(config_.models_dir);
  if (!store.ok()) return send_error(w.peer, w.request_id, store.status());
  auto manifest = store->find(*stored);
  if (!manifest.ok()) return send_error(w.peer, w.request_id, failure ? *failure : manifest.status());
  ModelSpec spec;
  spec.name = stored->str();
  spec.path = store->blob_path(*manifest);
  log_.info("loading model '" + spec.name + "' on demand from the store");
  load_waiters_[spec.name].push_back(w);
  start_load(Waiter{}, std::move(spec), /*ctx=*/0, "auto", keep_alive.value_or(config_.keep_alive));
}

void KernelServer::admit_load(PendingLoad p) {
  refresh_residency();
  const std::string name = p.spec.name;
  if (Status st = registry_.check_spec(p.spec); !st.ok()) {  // nothing is evicted for a load that cannot start
    log_.warn("load of '" + p.spec.path + "' refused: " + st.message());
    return load_failed(p.waiter, name, st);
  }
  const uint64_t need = p.facts.memory.total();
  // Memory of models being unloaded comes back when their services are gone.
  uint64_t freeing = 0;
  for (const auto& r : registry_.list()) {
    if (r.state == ModelState::kDraining) freeing += r.memory.total();
  }
  auto plan = residency_.plan_eviction(name, need, registry_.available_bytes() + freeing, registry_.budget_bytes(),
                                       config_.max_loaded);
  if (!plan.ok()) {
    log_.warn("load of '" + name + "' refused: " + plan.status().message());
    return load_failed(p.waiter, name, plan.status());
  }
  if (plan->evict.empty() && (freeing == 0 || need <= registry_.available_bytes())) return begin_load(std::move(p));
  send_progress(p.waiter, name, "evicting", 2);
  // Queued first: an unload that ends at once retries it from finish_unload.
  pending_loads_.push_back(std::move(p));
  for (const std::string& victim : plan->evict) begin_unload(victim, "evicted to make room for '" + name + "'");
}

void KernelServer::retry_pending_loads() {
  if (pending_loads_.empty()) return;
  std::vector<PendingLoad> loads = std::move(pending_loads_);
  pending_loads_.clear();
  for (auto& p : loads) {
    if (shutting_down_) {
      load_failed(p.waiter, p.spec.name, disconnected("llmosd is shutting down"));
      continue;
    }
    admit_load(std::move(p));
  }
}

void KernelServer::begin_unload(const std::string& name, const std::string& why) {
  if (!registry_.begin_drain(name).ok()) return;
  (void)scheduler_.close_model(name);
  residency_.remove(name);
  log_.info("model '" + name + "': " + why);
  if (auto it = models_.find(name); it != models_.end()) check_drained(it->second);
}

void KernelServer::refresh_residency() {
  const TimePoint now = clock_.now();
  for (const auto& entry : models_) {
    const std::string& name = entry.first;
    const ResidentModel* resident = residency_.find(name);
    if (resident == nullptr || resident->loading) continue;
    auto load = scheduler_.load(name);
    const uint32_t in_flight = load ? load->queued + load->running : 0;
    if (in_flight != resident->in_flight) (void)residency_.set_in_flight(name, in_flight, now);
  }
}

void KernelServer::unload_expired() {
  if (unloading_expired_ || shutting_down_) return;
  unloading_expired_ = true;
  refresh_residency();
  const TimePoint now = clock_.now();
  for (const std::string& name : residency_.expired(now)) {
    const ModelRecord* r = registry_.find(name);
    if (r && r->state == ModelState::kReady) begin_unload(name, "idle past its keep-alive; unloading");
  }
  unloading_expired_ = false;
}

void KernelServer::load_failed(const Waiter& w, const std::string& name, const Status& st) {
  if (!w.peer.empty()) send_error(w.peer, w.request_id, st);
  auto it = load_waiters_.find(name);
  if (it == load_waiters_.end()) return;
  std::vector<Waiter> waiting = std::move(it->second);
  load_waiters_.erase(it);
  for (const Waiter& e : waiting) send_error(e.peer, e.request_id, st);
}

void KernelServer::answer_load_waiters(const std::string& name) {
  auto it = load_waiters_.find(name);
  if (it == load_waiters_.end()) return;
  std::vector<Waiter> waiting = std::move(it->second);
  load_waiters_.erase(it);
  const ModelRecord* r = registry_.find(name);
  for (const Waiter& e : waiting) {
    if (r == nullptr) {
      send_error(e.peer, e.request_id, internal_error("model '" + name + "' is ready but has no record"));
      continue;
    }
    answer_ready(e, *r);
  }
}

void KernelServer::fill_residency(wire::ModelInfo::Builder out, std::string_view name) const {
  const ResidentModel* m = residency_.find(name);
  if (m == nullptr) return;
  const TimePoint now = clock_.now();
  out.setLastUseUnixMs(unix_ms_of(m->last_use, now));
  if (auto at = m->unload_at()) out.setExpiresUnixMs(unix_ms_of(*at, now));
  out.setKeepAliveMs(m->keep_alive.idle
                         ? int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(*m->keep_alive.idle).count())
                         : -1);
}

}  // namespace llmos::kernel
