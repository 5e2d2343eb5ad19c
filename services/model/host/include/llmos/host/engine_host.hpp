// EngineHost: the one home of an engine's thread. It owns an Engine and runs its
// step loop on a thread of its own; submissions, cancellations, preemptions and
// drain requests come in from any thread; what each step produced goes out to
// an EngineListener, called on the engine thread with no lock held. Its
// statistics are published after every step for any thread to read. Used by
// llmos-model, `llmos serve --local`, `llmos generate --local` and llmos-bench.
// Thread-safe; the destructor stops the thread (without cancelling anything).
// Destroying the host from inside a listener callback is allowed: the thread
// then finishes on its own, touching neither the host nor the listener again.
#pragma once
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/domain/engine_counters.hpp"
#include "llmos/domain/priority.hpp"
#include "llmos/engine/engine.hpp"

namespace llmos::host {

// Called on the engine thread. Implementations must not call back into the
// host's stop() or destructor (the thread would join itself); the other calls
// are fine.
class EngineListener {
 public:
  virtual ~EngineListener() = default;
  // Everything one step produced (new tokens, ends), in order. The span is
  // valid during the call only.
  virtual void on_events(std::span<const engine::TokenEvent> events) = 0;
  // The engine refused a submission (Engine::submit's error).
  virtual void on_refused(uint64_t request_id, Status status) = 0;
  // drain() was asked for and nothing is left to run. The engine has been
  // destroyed (the model it borrowed may be freed now); the thread then exits.
  virtual void on_drained() {}
};

// Published after every step; any thread may read.
struct EngineHostStats {
  std::atomic<uint32_t> running{0};          // sequences holding KV blocks
  std::atomic<uint32_t> waiting{0};          // submitted, not yet running (host and engine)
  std::atomic<uint32_t> kv_blocks_used{0};
  std::atomic<uint32_t> kv_blocks_total{0};
  std::atomic<uint64_t> tokens_generated{0};  // since the host started
  std::array<std::atomic<uint64_t>, kEngineCounterCount> engine{};  // EngineCounter order

  EngineCounters engine_counters() const;
};

struct EngineHostOptions {
  int step_delay_ms = 0;  // > 0: sleep between steps (a test hook that makes generations slow)
};

class EngineHost {
 public:
  // Starts the thread. REQUIRES: `engine` and `listener` outlive the host
  // (the listener is borrowed; the engine is owned).
  EngineHost(std::unique_ptr<engine::Engine> engine, EngineListener& listener, EngineHostOptions options = {});
  ~EngineHost();  // stop()
  EngineHost(const EngineHost&) = delete;
  EngineHost& operator=(const EngineHost&) = delete;

  // Queues a request. Interactive submissions that arrive together join the
  // engine ahead of batch ones. Refusals reach EngineListener::on_refused.
  void submit(engine::GenerationRequest request, Priority priority = Priority::kInteractive);
  void cancel(uint64_t request_id);   // Engine::cancel
  void preempt(uint64_t request_id);  // Engine::preempt
  void release_retained();            // Engine::release_retained
  // Runs what was submitted to its end, destroys the engine, calls
  // on_drained and exits.
  void drain();
  // Ends the thread at the next step boundary and joins it. What was queued or
  // running is dropped without events. Idempotent.
  void stop();

  const EngineHostStats& stats() const;
  // Submissions not yet handed to the engine plus those the engine has not
  // started: what a caller counts against its queue limit.
  uint32_t waiting() const;

 private:
  struct Core;  // shared with the thread, so it may outlive the host (see above)
  std::shared_ptr<Core> core_;
  std::mutex join_mu_;  // serializes stop()
  std::thread thread_;
};

}  // namespace llmos::host
