// Scheduler: the kernel's scheduling policy: admission into per-model queues, what starts next
// (interactive before aged batch, caps per model and overall, fair share between models), which
// sequence to preempt, and every admitted request with its state (RequestState) and its
// streamed tokens for re-dispatch. Policy only (no sockets, no engine). Owned by the kernel's
// I/O thread; not thread-safe.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/domain/priority.hpp"
#include "llmos/domain/sampling.hpp"
#include "llmos/kernel/clock.hpp"
#include "llmos/kernel/request_state.hpp"

namespace llmos::kernel {

struct GenerationRequest {
  uint64_t id = 0;  // unique among admitted requests, never 0
  std::string model;
  std::vector<uint32_t> prompt;
  SamplingParams sampling;
  uint32_t max_tokens = 256;       // >= 1
  std::vector<uint32_t> stop_ids;  // token ids (besides end-of-sequence) that stop it
  Priority priority = Priority::kInteractive;
};

// An admitted request, as the scheduler keeps it until it finishes: everything
// the kernel knows about it.
struct TrackedRequest {
  GenerationRequest request;
  RequestState state = RequestState::kQueued;
  std::vector<uint32_t> generated;  // tokens streamed so far
  uint64_t admission_order = 0;     // increases with each admission
  TimePoint queued_since{};         // when it last joined its queue
  bool swapped_out = false;         // its last preemption left its KV in the memory service
  uint32_t dispatches = 0;          // times handed to a model service

  uint32_t prompt_tokens() const { return uint32_t(request.prompt.size()); }
};

struct SchedulerConfig {
  uint32_t max_queued_per_model = 256;  // waiting (not running) requests
  uint32_t max_running_per_model = 16;  // used when ModelLimits.max_running is 0
  uint32_t max_running_total = 0;       // across all models; 0 = no limit
  // A batch request that has waited this long goes before interactive ones.
  Duration batch_max_wait = std::chrono::seconds(5);
};

struct ModelLimits {
  uint32_t ctx = 0;          // context length in tokens
  uint32_t max_running = 0;  // concurrent sequences; 0 = SchedulerConfig's
};

struct ModelLoad {
  uint32_t queued = 0;
  uint32_t running = 0;
};

struct SchedulerCounters {
  uint64_t admitted = 0;
  uint64_t rejected = 0;
  uint64_t finished = 0;
  uint64_t cancelled_in_queue = 0;
  uint64_t preemptions = 0;
  uint64_t redispatches = 0;  // requests put back after their service died
};

// Every state change of a request is a Scheduler method below that checks the
// state it starts from. One a message from a peer asks for (a model service's
// `preempted`, io's `cancel`) and that does not fit the request's state — late,
// repeated, or from a service that no longer runs it — is refused with
// not_found (the request ended) or invalid_argument, and changes nothing.
class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig config = {}) : config_(config) {}

  // invalid_argument: the name is taken or ctx is 0.
  Status add_model(std::string name, ModelLimits limits);
  // Admits nothing more for `name`; what is admitted continues (drain).
  Status close_model(std::string_view name);
  // A paused model keeps admitting and queueing but starts nothing (its
  // service is restarting). not_found for an unknown name.
  Status set_paused(std::string_view name, bool paused);
  // Removes `name` and hands back every request it still held, in any state,
  // for the caller to fail.
  std::vector<TrackedRequest> remove_model(std::string_view name);

  // Admission: a new request, kQueued. not_found: unknown or closed model.
  // invalid_argument: id 0 or already admitted, empty prompt, prompt that
  // leaves no room in the context, bad sampling values. overloaded: the
  // model's queue is full.
  Status submit(GenerationRequest request, TimePoint now);

  // Starts what may start now, within the caps: kQueued or kPreempted becomes
  // kRunning. The caller dispatches each to its model service (with
  // `generated` when not empty, and `swapped_out`).
  std::vector<TrackedRequest> schedule(TimePoint now);

  // Tokens streamed by a dispatched request; `offset` is the index of ids[0]
  // among its generated tokens. Tokens already known are ignored (repeats after
  // a re-dispatch); a gap, or a request never dispatched, is invalid_argument.
  // Unknown id: not_found. The state does not change.
  Status record_tokens(uint64_t id, uint32_t offset, std::span<const uint32_t> ids);

  // The request ended, from any state (its service's final event, a failure,
  // or the kernel ending it): the scheduler forgets it. Unknown id: not_found.
  Status finish(uint64_t id);

  enum class CancelOutcome {
    kRemovedFromQueue,  // it was kQueued or kPreempted: finished now
    kCancelling,        // it was kRunning or kPreempting: now kCancelling; tell its service
  };
  // The client cancels. Unknown id: not_found; already kCancelling:
  // invalid_argument.
  Result<CancelOutcome> cancel(uint64_t id);

  // The running request of `model` to preempt when its KV blocks run out: the
  // lowest priority class, then the most recently admitted; `except` (the
  // sequence asking for blocks) is never chosen, nor one already leaving
  // (preempting, cancelling). nullopt when there is none.
  std::optional<uint64_t> choose_preemption_victim(std::string_view model,
                                                   std::optional<uint64_t> except = {}) const;
  // Priority preemption: when `model` runs at its cap of sequences and an
  // interactive request waits to start next (no batch request has waited past
  // batch_max_wait), the kRunning batch request to take off for it: the latest
  // admitted. Each request already leaving (kPreempting, kCancelling) makes
  // room for one waiting interactive request. nullopt when there is no such
  // need or no batch request to take.
  std::optional<uint64_t> choose_priority_preemption(std::string_view model, TimePoint now) const;
  // The kernel asked the model service to take `id` off: kRunning becomes
  // kPreempting. Any other state: invalid_argument.
  Status begin_preempt(uint64_t id);

  enum class PreemptedOutcome {
    kRequeued,   // it was kPreempting: now kPreempted, at the front of its queue
    kCancelled,  // it was kCancelling (a cancel crossed the preemption): the
                 // caller ends it (finish) and has the service drop its swap
  };
  // The model service took `id` off (its `preempted`); `swapped_out`: its KV
  // went to the memory service. Unknown id: not_found; any other state (a
  // preemption the kernel did not ask of this service): invalid_argument.
  Result<PreemptedOutcome> requeue_preempted(uint64_t id, bool swapped_out, TimePoint now);

  struct CrashOutcome {
    // Back at the front of their queue as kQueued (earliest admitted first),
    // to be re-dispatched with their prompt and the tokens streamed so far.
    std::vector<uint64_t> requeued;
    // Those being cancelled: finished and handed back, for the caller to end.
    std::vector<TrackedRequest> cancelled;
  };
  // The service of `model` died: every request it held (kRunning, kPreempting,
  // kCancelling) leaves it.
  CrashOutcome requeue_after_crash(std::string_view model, TimePoint now);

  const TrackedRequest* find(uint64_t id) const;  // valid until the next change
  // Ids of every admitted request (any state), of one model or of all when
  // `model` is empty, earliest admitted first.
  std::vector<uint64_t> request_ids(std::string_view model = {}) const;
  std::optional<ModelLoad> load(std::string_view model) const;
  uint32_t total_running() const { return total_running_; }
  const SchedulerCounters& counters() const { return counters_; }

 private:
  struct ModelQueue {
    ModelLimits limits;
    bool open = true;
    bool paused = false;
    std::deque<uint64_t> interactive;
    std::deque<uint64_t> batch;
    std::set<uint64_t> running;  // every request its service holds (held_by_service)
    uint64_t last_served = 0;  // schedule round that last started one of its requests
  };
  // Which request `q` would start next and whether it is urgent (interactive,
  // or batch past batch_max_wait). nullopt when nothing waits.
  std::optional<std::pair<std::deque<uint64_t>*, bool>> next_of(ModelQueue& q, TimePoint now);
  uint32_t running_cap(const ModelQueue& q) const;
  // A request its service held goes back to the front of its queue as `to`.
  void requeue_front(ModelQueue& q, TrackedRequest& r, RequestState to, TimePoint now);
  // Takes `id` out of its model's queue or running set (any state) and forgets it.
  TrackedRequest remove_request(std::unordered_map<uint64_t, TrackedRequest>::iterator it);

  SchedulerConfig config_;
  std::map<std::string, ModelQueue, std::less<>> models_;
  std::unordered_map<uint64_t, TrackedRequest> requests_;
  uint64_t next_admission_ = 1;
  uint64_t round_ = 0;
  uint32_t total_running_ = 0;
  SchedulerCounters counters_;
};

}  // namespace llmos::kernel
