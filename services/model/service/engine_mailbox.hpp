// EngineMailbox: how the model service's IPC thread receives what its engine
// thread (an EngineHost) produces. The engine thread, its only producer, pushes
// token events and refused submissions into Boost.Lockfree single-producer
// queues and signals an eventfd the IPC thread waits on; the IPC thread is the
// only consumer. Construct and destroy it on the IPC thread, outside the
// host's lifetime (it must outlive the EngineHost that calls it).
#pragma once
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <memory>
#include <span>

#include "llmos/common/status.hpp"
#include "llmos/host/engine_host.hpp"

namespace llmos::model_service {

// A submission the engine refused (invalid_argument from Engine::submit).
struct RefusedSubmission {
  uint64_t request_id = 0;
  Status status;
};

class EngineMailbox final : public host::EngineListener {
 public:
  EngineMailbox();
  ~EngineMailbox() override;
  EngineMailbox(const EngineMailbox&) = delete;
  EngineMailbox& operator=(const EngineMailbox&) = delete;

  // Engine thread (EngineListener). Blocks (yielding) while a queue is full.
  void on_events(std::span<const engine::TokenEvent> events) override;
  void on_refused(uint64_t request_id, Status status) override;

  // IPC thread: outputs in the order the engine produced them. false when empty.
  bool pop_event(engine::TokenEvent& out) { return events_.pop(out); }
  std::unique_ptr<RefusedSubmission> pop_refusal();

  // Readable (level) when outputs are waiting. When it is, call clear_signal()
  // and then pop every output: each one pushed before a wake() is then seen.
  int signal_fd() const { return signal_fd_; }
  void clear_signal();

 private:
  void wake();

  // Ownership of a refusal passes through its queue (released on push,
  // re-owned on pop; whatever is left is freed by the destructor).
  boost::lockfree::spsc_queue<engine::TokenEvent, boost::lockfree::capacity<65536>> events_;
  boost::lockfree::spsc_queue<RefusedSubmission*, boost::lockfree::capacity<1024>> refusals_;
  int signal_fd_ = -1;
  std::atomic<bool> signalled_{false};
};

}  // namespace llmos::model_service
