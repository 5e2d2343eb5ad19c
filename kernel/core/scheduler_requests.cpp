// Scheduler: the transitions of a request's state (request_state.hpp), each
// checking the state it starts from. Split from scheduler.cpp, which holds the
// policy (admission, what starts next, whom to preempt).
#include <algorithm>

#include "llmos/kernel/scheduler.hpp"

namespace llmos::kernel {
namespace {

void erase_id(std::deque<uint64_t>& q, uint64_t id) {
  auto it = std::find(q.begin(), q.end(), id);
  if (it != q.end()) q.erase(it);
}

std::string unknown(uint64_t id) { return "no admitted request " + std::to_string(id); }

// "request 7 is queued: only a running request can be preempted"
Status wrong_state(const TrackedRequest& r, std::string_view refused) {
  return invalid_argument("request " + std::to_string(r.request.id) + " is " +
                          std::string(request_state_name(r.state)) + ": " + std::string(refused));
}

}  // namespace

std::string_view request_state_name(RequestState s) {
  switch (s) {
    case RequestState::kQueued: return "queued";
    case RequestState::kRunning: return "running";
    case RequestState::kPreempting: return "preempting";
    case RequestState::kPreempted: return "preempted";
    case RequestState::kCancelling: return "cancelling";
  }
  return "unknown";
}

Status Scheduler::record_tokens(uint64_t id, uint32_t offset, std::span<const uint32_t> ids) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return not_found(unknown(id));
  if (it->second.dispatches == 0) return wrong_state(it->second, "it was never dispatched, so has no tokens");
  auto& generated = it->second.generated;
  if (offset > generated.size()) {
    return invalid_argument("request " + std::to_string(id) + ": tokens at offset " +
                            std::to_string(offset) + " but only " +
                            std::to_string(generated.size()) + " are known");
  }
  size_t known = generated.size() - offset;
  if (known < ids.size()) generated.insert(generated.end(), ids.begin() + known, ids.end());
  return ok_status();
}

TrackedRequest Scheduler::remove_request(std::unordered_map<uint64_t, TrackedRequest>::iterator it) {
  const uint64_t id = it->first;
  TrackedRequest r = std::move(it->second);
  requests_.erase(it);
  auto q = models_.find(r.request.model);
  LLMOS_ASSERT(q != models_.end());  // remove_model takes a model's requests with it
  if (held_by_service(r.state)) {
    const size_t held = q->second.running.erase(id);
    LLMOS_ASSERT(held == 1);
    --total_running_;
  } else {
    erase_id(q->second.interactive, id);
    erase_id(q->second.batch, id);
  }
  return r;
}

Status Scheduler::finish(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return not_found(unknown(id));
  (void)remove_request(it);
  ++counters_.finished;
  return ok_status();
}

Result<Scheduler::CancelOutcome> Scheduler::cancel(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return not_found(unknown(id));
  TrackedRequest& r = it->second;
  switch (r.state) {
    case RequestState::kQueued:
    case RequestState::kPreempted:
      (void)remove_request(it);
      ++counters_.cancelled_in_queue;
      return CancelOutcome::kRemovedFromQueue;
    case RequestState::kRunning:
    case RequestState::kPreempting:
      r.state = RequestState::kCancelling;
      return CancelOutcome::kCancelling;
    case RequestState::kCancelling:
      break;
  }
  return wrong_state(r, "it is cancelled already");
}

Status Scheduler::begin_preempt(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return not_found(unknown(id));
  TrackedRequest& r = it->second;
  if (r.state != RequestState::kRunning) return wrong_state(r, "only a running request can be preempted");
  r.state = RequestState::kPreempting;
  return ok_status();
}

void Scheduler::requeue_front(ModelQueue& q, TrackedRequest& r, RequestState to, TimePoint now) {
  LLMOS_ASSERT(held_by_service(r.state));
  const size_t held = q.running.erase(r.request.id);
  LLMOS_ASSERT(held == 1);
  --total_running_;
  r.state = to;
  r.queued_since = now;
  (r.request.priority == Priority::kBatch ? q.batch : q.interactive).push_front(r.request.id);
}

Result<Scheduler::PreemptedOutcome> Scheduler::requeue_preempted(uint64_t id, bool swapped_out,
                                                                 TimePoint now) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return not_found(unknown(id));
  TrackedRequest& r = it->second;
  if (r.state == RequestState::kCancelling) return PreemptedOutcome::kCancelled;
  if (r.state != RequestState::kPreempting) return wrong_state(r, "its preemption was not asked for");
  requeue_front(models_.at(r.request.model), r, RequestState::kPreempted, now);
  r.swapped_out = swapped_out;
  ++counters_.preemptions;
  return PreemptedOutcome::kRequeued;
}

Scheduler::CrashOutcome Scheduler::requeue_after_crash(std::string_view model, TimePoint now) {
  CrashOutcome out;
  auto it = models_.find(model);
  if (it == models_.end()) return out;
  ModelQueue& q = it->second;
  std::vector<uint64_t> held(q.running.begin(), q.running.end());
  std::sort(held.begin(), held.end(), [&](uint64_t a, uint64_t b) {
    return requests_.at(a).admission_order < requests_.at(b).admission_order;
  });
  for (uint64_t id : held) {
    auto r = requests_.find(id);
    if (r->second.state == RequestState::kCancelling) {
      out.cancelled.push_back(remove_request(r));
      ++counters_.finished;
    } else {
      out.requeued.push_back(id);
    }
  }
  // Pushing to the front latest-first leaves the earliest admitted at the head.
  for (auto i = out.requeued.rbegin(); i != out.requeued.rend(); ++i) {
    TrackedRequest& r = requests_.at(*i);
    requeue_front(q, r, RequestState::kQueued, now);
    r.swapped_out = false;
    ++counters_.redispatches;
  }
  return out;
}

}  // namespace llmos::kernel
