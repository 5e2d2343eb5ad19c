// KernelServer: generation requests (admission, dispatch, cancellation, the
// final token event of each request, and re-dispatch after a crash).
#include "kernel_server.hpp"

namespace llmos::kernel {
namespace {

template <class List>
void set_ids(List list, const std::vector<uint32_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) list.set(uint32_t(i), ids[i]);
}

}  // namespace

void KernelServer::on_submit(const ipc::DecodedMessage& m) {
  const std::string peer(m.peer());
  const uint64_t id = m.request_id();
  if (peer != "io") {
    return send_error(peer, id,
                      invalid_argument("submit is for the I/O service; clients send 'generate' to io.sock"));
  }
  if (shutting_down_) return send_error(peer, id, disconnected("llmosd is shutting down"));
  auto s = m.body().getSubmit();
  GenerationRequest r;
  r.id = id;
  r.model = ipc::to_string(s.getModel());
  r.prompt = ipc::to_vector(s.getPromptIds());
  r.sampling = ipc::from_wire(s.getSampling());
  r.max_tokens = s.getSampling().getMaxTokens();
  r.stop_ids = ipc::to_vector(s.getSampling().getStopIds());
  r.priority = ipc::from_wire(s.getPriority());
  const std::string model = r.model;
  const uint32_t prompt_tokens = uint32_t(r.prompt.size());
  std::optional<KeepAlive> keep_alive;
  if (s.getKeepAlive().size() > 0) {
    auto k = parse_keep_alive(ipc::to_string(s.getKeepAlive()));
    if (!k.ok()) {
      (void)residency_.release(s.getReservation(), clock_.now());
      return send_error(peer, id, k.status());
    }
    keep_alive = *k;
  }
  const uint64_t reservation = s.getReservation();
  if (Status st = scheduler_.submit(std::move(r), clock_.now()); !st.ok()) {
    log_.debug("request " + std::to_string(id) + " refused: " + st.to_string());
    if (reservation) (void)residency_.release(reservation, clock_.now());
    return send_error(peer, id, st);
  }
  if (keep_alive) (void)residency_.set_keep_alive(model, *keep_alive);
  refresh_residency();  // counts the request before its reservation goes
  if (reservation) (void)residency_.release(reservation, clock_.now());
  prompt_tokens_ += prompt_tokens;
  ipc::OutgoingMessage out(id);
  auto admitted = out.body().initAdmitted();
  admitted.setModel(ipc::as_text(model));
  auto load = scheduler_.load(model);
  admitted.setQueuedAhead(load && load->queued > 0 ? load->queued - 1 : 0);
  (void)send_to(peer, out);
  pump();
}

void KernelServer::on_cancel(const ipc::DecodedMessage& m) {
  const uint64_t id = m.request_id();
  const TrackedRequest* r = scheduler_.find(id);
  if (r == nullptr) return;  // already finished
  const std::string model = r->request.model;
  const bool swapped_out = r->state == RequestState::kPreempted && r->swapped_out;
  const uint32_t prompt_tokens = r->prompt_tokens();
  auto outcome = scheduler_.cancel(id);
  if (!outcome.ok()) {
    log_.debug("cancel ignored: " + outcome.status().message());  // a repeated cancel
    return;
  }
  if (*outcome == Scheduler::CancelOutcome::kRemovedFromQueue) {
    if (swapped_out) drop_swapped(model, id);
    ++cancelled_;
    send_final_event(id, wire::FinishReason::CANCELLED, ok_status(), prompt_tokens);
  } else {
    auto it = models_.find(model);
    if (it != models_.end() && it->second.service_up) {
      ipc::OutgoingMessage out(id);
      out.body().initCancel().setReason(m.body().getCancel().getReason());
      // Its final event ends it; a `preempted` crossing the Cancel ends it instead.
      if (send_to(it->second.service, out).ok()) return;
    }
    end_request(id, wire::FinishReason::CANCELLED, ok_status());
  }
  if (auto it = models_.find(model); it != models_.end()) check_drained(it->second);
}

void KernelServer::on_token_event(const ipc::DecodedMessage& m) {
  auto ev = m.body().getTokenEvent();
  const uint64_t id = m.request_id();
  ModelRuntime* model = model_of_service(m.peer());
  if (model == nullptr || !ev.getDone()) return;  // only a model's final events come here
  std::vector<uint32_t> ids = ipc::to_vector(ev.getIds());
  (void)scheduler_.record_tokens(id, ev.getOffset(), ids);
  const TrackedRequest* r = scheduler_.find(id);
  if (r == nullptr) return;  // ended already (a duplicate after a re-dispatch)
  generated_tokens_ += std::max<uint64_t>(r->generated.size(), uint64_t{ev.getOffset()} + ids.size());
  switch (ev.getFinishReason()) {
    case wire::FinishReason::CANCELLED: ++cancelled_; break;
    case wire::FinishReason::ERROR: ++failed_; break;
    default: ++completed_; break;
  }
  (void)scheduler_.finish(id);
  const std::string name = model->name;
  check_drained(*model);
  if (models_.count(name)) pump();
}

void KernelServer::pump() {
  if (shutting_down_) return;
  for (const auto& r : scheduler_.schedule(clock_.now())) dispatch(r);
  preempt_for_priority();
}

// An interactive request waits while a model runs at its cap, some of it
// batch work: the latest batch request is taken off (its KV swapped out) to
// make room, and goes back to the front of the batch queue with its tokens.
void KernelServer::preempt_for_priority() {
  const TimePoint now = clock_.now();
  for (auto& [name, model] : models_) {
    if (!model.service_up) continue;
    while (auto victim = scheduler_.choose_priority_preemption(name, now)) {
      ipc::OutgoingMessage out(*victim);
      out.body().initPreempt().setSwapOut(true);
      if (!send_to(model.service, out).ok()) break;  // its exit requeues everything
      const Status preempting = scheduler_.begin_preempt(*victim);
      LLMOS_ASSERT(preempting.ok());  // the victim was chosen among running requests
      log_.info("preempting batch request " + std::to_string(*victim) + " of '" + name +
                "' for an interactive one");
    }
  }
}

void KernelServer::on_preempted(const ipc::DecodedMessage& m) {
  ModelRuntime* model = model_of_service(m.peer());
  if (model == nullptr) return;
  const uint64_t id = m.request_id();
  auto p = m.body().getPreempted();
  auto outcome = scheduler_.requeue_preempted(id, p.getSwappedOut(), clock_.now());
  if (!outcome.ok()) {  // it ended meanwhile, or a late message from a service that no longer runs it
    const Status& st = outcome.status();
    if (st.code() == ErrorCode::kNotFound) {
      log_.debug("preempted ignored: " + st.message());
    } else {
      log_.warn("preempted from '" + model->service + "' ignored: " + st.message());
    }
    return;
  }
  const std::vector<uint32_t> ids = ipc::to_vector(p.getGeneratedIds());
  if (Status st = scheduler_.record_tokens(id, 0, ids); !st.ok()) log_.warn("preempted: " + st.message());
  if (*outcome == Scheduler::PreemptedOutcome::kCancelled) {
    // The client's cancel crossed the preemption: it ends here (end_request's
    // Cancel makes the service drop the KV it swapped out).
    end_request(id, wire::FinishReason::CANCELLED, ok_status());
    check_drained(*model);
    return pump();
  }
  log_.info("request " + std::to_string(id) + " preempted after " + std::to_string(ids.size()) + " tokens (" +
            (p.getSwappedOut() ? std::to_string(p.getCommittedTokens()) + " tokens of KV swapped out)"
                               : std::string("its KV will be recomputed)")));
  pump();
}

void KernelServer::drop_swapped(const std::string& model, uint64_t id) {
  auto it = models_.find(model);
  if (it == models_.end() || !it->second.service_up) return;
  ipc::OutgoingMessage out(id);
  out.body().initCancel().setReason("its request ended while preempted");
  (void)send_to(it->second.service, out);
}

void KernelServer::dispatch(const TrackedRequest& r) {
  auto it = models_.find(r.request.model);
  if (it == models_.end()) return;
  ipc::OutgoingMessage out(r.request.id);
  auto d = out.body().initDispatch();
  auto s = d.initRequest();
  s.setModel(ipc::as_text(r.request.model));
  set_ids(s.initPromptIds(uint32_t(r.request.prompt.size())), r.request.prompt);
  auto sampling = s.initSampling();
  ipc::to_wire(r.request.sampling, sampling);
  sampling.setMaxTokens(r.request.max_tokens);
  set_ids(sampling.initStopIds(uint32_t(r.request.stop_ids.size())), r.request.stop_ids);
  s.setPriority(ipc::to_wire(r.request.priority));
  set_ids(s.initGeneratedIds(uint32_t(r.generated.size())), r.generated);
  d.setSwappedOut(r.swapped_out);
  d.setTokenEndpoint(ipc::as_text(token_endpoint_));
  if (r.dispatches > 1) {
    log_.info("request " + std::to_string(r.request.id) + " re-dispatched to '" + it->second.service +
              "' with " + std::to_string(r.generated.size()) + " tokens already generated");
  }
  if (Status st = send_to(it->second.service, out); !st.ok()) {
    // The service just went away: its exit requeues the request.
    log_.warn("dispatch of request " + std::to_string(r.request.id) + ": " + st.to_string());
  }
}

void KernelServer::end_request(uint64_t id, wire::FinishReason reason, const Status& error) {
  const TrackedRequest* r = scheduler_.find(id);
  if (r == nullptr) return;
  // Its service holds it, or (preempted) its swapped-out KV: have it dropped.
  if (held_by_service(r->state) || r->swapped_out) {
    auto it = models_.find(r->request.model);
    if (it != models_.end() && it->second.service_up) {
      ipc::OutgoingMessage out(id);
      out.body().initCancel().setReason("ended by the kernel");
      (void)send_to(it->second.service, out);
    }
  }
  generated_tokens_ += r->generated.size();
  const uint32_t prompt_tokens = r->prompt_tokens();
  (void)scheduler_.finish(id);
  if (reason == wire::FinishReason::CANCELLED) {
    ++cancelled_;
  } else {
    ++failed_;
  }
  send_final_event(id, reason, error, prompt_tokens);
}

void KernelServer::cancel_all_requests(const std::string& why) {
  auto ids = scheduler_.request_ids();
  if (ids.empty()) return;
  log_.warn("cancelling " + std::to_string(ids.size()) + " request(s): " + why);
  for (uint64_t id : ids) end_request(id, wire::FinishReason::CANCELLED, disconnected(why));
  std::vector<std::string> names;
  for (const auto& [name, model] : models_) names.push_back(name);
  for (const auto& name : names) {
    if (auto it = models_.find(name); it != models_.end()) check_drained(it->second);
  }
}

void KernelServer::send_final_event(uint64_t id, wire::FinishReason reason, const Status& error,
                                    uint32_t prompt_tokens) {
  if (!io_up_) return;
  ipc::OutgoingMessage out(id);
  auto ev = out.body().initTokenEvent();
  ev.setDone(true);
  ev.setFinishReason(reason);
  ev.setPromptTokens(prompt_tokens);
  if (!error.ok()) ipc::set_error(ev.initError(), error);
  (void)send_to("io", out);
}

}  // namespace llmos::kernel
