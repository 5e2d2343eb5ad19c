// KernelServer: which models stay loaded. Loads on demand (ensureModel from
// llmos-io, resolved through the model store), evicts idle models when a load
// does not fit (ModelResidency's plan), and unloads models idle past their
// keep-alive. In-flight counts come from the scheduler, which sees every
// request (docs/microkernel.md, "Load on demand and eviction").
#include "kernel_server.hpp"
#include "llmos/model/model_store.hpp"

namespace llmos::kernel {
namespace {

// How long a model an ensureModel was answered for waits for its request.
constexpr Duration kEnsureGrace = std::chrono::seconds(5);

uint64_t unix_ms_of(TimePoint t, TimePoint now) {
  const auto wall = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(t - now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  return ms > 0 ? uint64_t(ms) : 0;
}

}  // namespace

bool KernelServer::load_in_progress(std::string_view name) const { return load_waiters_.count(name) > 0; }

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
      if (auto it = models_.find(name); it != models_.end()) it->second.ensured_at = clock_.now();
      if (keep_alive) (void)residency_.set_keep_alive(name, *keep_alive);
      ipc::OutgoingMessage out(w.request_id);
      fill_model_info(out.body().initModelInfo(), *r);
      (void)send_to(w.peer, out);
      return;
    }
    if (r && r->state == ModelState::kDraining) {
      return send_error(w.peer, w.request_id,
                        overloaded("model '" + name + "' is being unloaded; retry when it is gone"));
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
  for (const auto& [name, model] : models_) {
    const ResidentModel* resident = residency_.find(name);
    if (resident == nullptr || resident->loading) continue;
    auto load = scheduler_.load(name);
    // A model just handed to a request that llmos-io has not submitted yet
    // counts it as in flight for a moment: neither evicted nor expired.
    const bool promised = model.ensured_at != TimePoint{} && now - model.ensured_at < kEnsureGrace;
    const uint32_t in_flight = (load ? load->queued + load->running : 0) + (promised ? 1 : 0);
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
  if (auto m = models_.find(name); m != models_.end() && !waiting.empty()) m->second.ensured_at = clock_.now();
  for (const Waiter& e : waiting) {
    if (r == nullptr) {
      send_error(e.peer, e.request_id, internal_error("model '" + name + "' is ready but has no record"));
      continue;
    }
    ipc::OutgoingMessage out(e.request_id);
    fill_model_info(out.body().initModelInfo(), *r);
    (void)send_to(e.peer, out);
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
