// EngineRunner: the model service's engine thread. It owns the Engine and runs
// its step loop; submissions and cancellations come in, token events and
// refused submissions go out, through Boost.Lockfree single-producer queues
// (the IPC thread is the only producer of commands and the only consumer of
// outputs). The engine thread signals new output on an eventfd the IPC thread
// waits on. Public methods other than the constructor and destructor are for
// the IPC thread only.
#pragma once
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "llmos/common/status.hpp"
#include "llmos/engine/engine.hpp"

namespace llmos::model_service {

// A submission the engine refused (invalid_argument from Engine::submit).
struct RefusedSubmission {
  uint64_t request_id = 0;
  Status status;
};

// What the engine thread publishes after every step (read by heartbeats).
struct EngineCounters {
  std::atomic<uint32_t> running{0};
  std::atomic<uint32_t> waiting{0};
  std::atomic<uint32_t> kv_blocks_used{0};
  std::atomic<uint32_t> kv_blocks_total{0};
  std::atomic<uint64_t> tokens_generated{0};
  std::atomic<uint64_t> preemptions{0};
  std::atomic<uint64_t> swaps_out{0};
  std::atomic<uint64_t> swaps_in{0};
  std::atomic<uint64_t> swap_fallbacks{0};
  std::atomic<uint64_t> tokens_recomputed{0};
  std::atomic<uint64_t> tokens_adopted{0};
  std::atomic<uint64_t> prefix_hits{0};
  std::atomic<uint64_t> prefix_tokens{0};
};

class EngineRunner {
 public:
  // Takes ownership of `engine` and starts the thread. `step_delay_ms` > 0
  // sleeps between steps (a test hook that makes generations slow enough to
  // interrupt; $LLMOS_TEST_STEP_DELAY_MS).
  EngineRunner(std::unique_ptr<engine::Engine> engine, int step_delay_ms);
  EngineRunner(const EngineRunner&) = delete;
  EngineRunner& operator=(const EngineRunner&) = delete;
  ~EngineRunner();  // stops and joins the thread

  void submit(engine::GenerationRequest request);
  void cancel(uint64_t request_id);
  void preempt(uint64_t request_id);  // Engine::preempt
  // Frees the KV a dead predecessor left that no request has claimed
  // (Engine::release_retained).
  void release_retained();

  // Outputs, in the order the engine produced them. false when empty.
  bool pop_event(engine::TokenEvent& out) { return events_.pop(out); }
  std::unique_ptr<RefusedSubmission> pop_refusal();

  // Readable (level) when outputs are waiting; read it with clear_signal().
  int signal_fd() const { return signal_fd_; }
  void clear_signal();

  const EngineCounters& counters() const { return counters_; }

 private:
  struct Command {
    enum class Kind { kSubmit, kCancel, kPreempt, kReleaseRetained } kind;
    engine::GenerationRequest request;  // kSubmit
    uint64_t request_id = 0;            // kCancel, kPreempt
  };
  void run();
  void publish(const engine::EngineStats& s, uint64_t new_tokens);  // into counters_
  void push_command(std::unique_ptr<Command> c);
  void wake_ipc();

  std::unique_ptr<engine::Engine> engine_;
  const int step_delay_ms_;
  // Ownership of the pointees passes through the queues (released on push,
  // re-owned on pop; whatever is left is freed by the destructor).
  boost::lockfree::spsc_queue<Command*, boost::lockfree::capacity<4096>> commands_;
  boost::lockfree::spsc_queue<engine::TokenEvent, boost::lockfree::capacity<65536>> events_;
  boost::lockfree::spsc_queue<RefusedSubmission*, boost::lockfree::capacity<1024>> refusals_;
  EngineCounters counters_;
  int signal_fd_ = -1;
  std::atomic<bool> signalled_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;  // guarded by mu_: commands were pushed
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace llmos::model_service
