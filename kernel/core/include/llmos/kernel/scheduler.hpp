// Scheduler: the kernel's scheduling policy: admission into per-model queues, what starts next
// (interactive before aged batch, caps per model and overall, fair share between models), which
// sequence to preempt, and every admitted request with its streamed tokens for re-dispatch.
// Policy only (no sockets, no engine). Owned by the kernel's I/O thread; not thread-safe.
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

// An admitted request, as the scheduler keeps it until it finishes.
struct TrackedRequest {
  GenerationRequest request;
  std::vector<uint32_t> generated;  // tokens streamed so far
  uint64_t admission_order = 0;     // increases with each admission
  TimePoint queued_since{};         // when it last joined its queue
  bool running = false;
  bool swapped_out = false;         // its KV blocks wait in the memory service
  uint32_t dispatches = 0;          // times handed to a model service
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
  // Removes `name` and hands back every request still queued or running, for
  // the caller to fail.
  std::vector<TrackedRequest> remove_model(std::string_view name);

  // Admission. not_found: unknown or closed model. invalid_argument: id 0 or
  // already admitted, empty prompt, prompt that leaves no room in the context,
  // bad sampling values. overloaded: the model's queue is full.
  Status submit(GenerationRequest request, TimePoint now);

  // Starts what may start now, within the caps, marking it running; the caller
  // dispatches each to its model service (with `generated` when not empty).
  std::vector<TrackedRequest> schedule(TimePoint now);

  // Tokens streamed by a running request; `offset` is the index of ids[0]
  // among its generated tokens. Tokens already known are ignored (repeats after
  // a re-dispatch); a gap is invalid_argument. Unknown id: not_found.
  Status record_tokens(uint64_t id, uint32_t offset, std::span<const uint32_t> ids);

  // The request ended (finished, failed, or its cancellation completed).
  Status finish(uint64_t id);

  enum class CancelOutcome { kRemovedFromQueue, kRunning };
  // A queued request is removed at once; a running one stays until the model
  // service confirms with finish(). Unknown id: not_found.
  Result<CancelOutcome> cancel(uint64_t id);

  // The running request of `model` to preempt when its KV blocks run out: the
  // lowest priority class, then the most recently admitted; `except` (the
  // sequence asking for blocks) is never chosen. nullopt when there is none.
  std::optional<uint64_t> choose_preemption_victim(std::string_view model,
                                                   std::optional<uint64_t> except = {}) const;
  // Priority preemption: when `model` runs at its cap of sequences and an
  // interactive request waits to start next (no batch request has waited past
  // batch_max_wait), the running batch request to take off for it: the latest
  // admitted, skipping `pending` (preemptions asked for and not yet done, each
  // of which already makes room for one waiting interactive request). nullopt
  // when there is no such need or no batch request runs.
  std::optional<uint64_t> choose_priority_preemption(std::string_view model, const std::set<uint64_t>& pending,
                                                     TimePoint now) const;
  // The model service stopped running `id` at our request: it goes back to the
  // front of its queue, keeping its tokens.
  Status requeue_preempted(uint64_t id, bool swapped_out, TimePoint now);

  // The service of `model` died: all its running requests go back to the front
  // of the queue (earliest admitted first) to be re-dispatched with their
  // prompt and the tokens streamed so far. Returns their ids.
  std::vector<uint64_t> requeue_after_crash(std::string_view model, TimePoint now);

  const TrackedRequest* find(uint64_t id) const;  // valid until the next change
  // Ids of every admitted request (queued or running), of one model or of all
  // when `model` is empty, earliest admitted first.
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
    std::set<uint64_t> running;
    uint64_t last_served = 0;  // schedule round that last started one of its requests
  };
  // Which request `q` would start next and whether it is urgent (interactive,
  // or batch past batch_max_wait). nullopt when nothing waits.
  std::optional<std::pair<std::deque<uint64_t>*, bool>> next_of(ModelQueue& q, TimePoint now);
  uint32_t running_cap(const ModelQueue& q) const;
  void requeue_front(ModelQueue& q, TrackedRequest& r, TimePoint now);

  SchedulerConfig config_;
  std::map<std::string, ModelQueue, std::less<>> models_;
  std::unordered_map<uint64_t, TrackedRequest> requests_;
  uint64_t next_admission_ = 1;
  uint64_t round_ = 0;
  uint32_t total_running_ = 0;
  SchedulerCounters counters_;
};

}  // namespace llmos::kernel
