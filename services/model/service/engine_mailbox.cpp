#include "engine_mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

namespace llmos::model_service {

EngineMailbox::EngineMailbox() {
  signal_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  LLMOS_REQUIRE(signal_fd_ >= 0, "eventfd");
}

EngineMailbox::~EngineMailbox() {
  RefusedSubmission* r = nullptr;
  while (refusals_.pop(r)) delete r;  // NOLINT: owned through the queue
  ::close(signal_fd_);
}

void EngineMailbox::on_events(std::span<const engine::TokenEvent> events) {
  for (const auto& ev : events) {
    while (!events_.push(ev)) {
      wake();
      std::this_thread::yield();  // the IPC thread drains
    }
  }
  wake();
}

void EngineMailbox::on_refused(uint64_t request_id, Status status) {
  auto refused = std::make_unique<RefusedSubmission>(RefusedSubmission{request_id, std::move(status)});
  RefusedSubmission* r = refused.release();
  while (!refusals_.push(r)) std::this_thread::yield();
  wake();
}

std::unique_ptr<RefusedSubmission> EngineMailbox::pop_refusal() {
  RefusedSubmission* r = nullptr;
  if (!refusals_.pop(r)) return nullptr;
  return std::unique_ptr<RefusedSubmission>(r);
}

void EngineMailbox::clear_signal() {
  // Read first, then clear the flag. In the other order a wake() between the
  // two sets the flag and writes, the read consumes that write, and the flag
  // stays set: no later wake() writes again and the IPC thread sleeps while
  // events wait. In this order every wake() that finds the flag set precedes
  // the store, and so the caller's pops, which come after it.
  uint64_t v;
  ssize_t n = ::read(signal_fd_, &v, sizeof v);
  (void)n;
  signalled_.store(false);
}

void EngineMailbox::wake() {
  if (signalled_.exchange(true)) return;
  uint64_t one = 1;
  ssize_t n = ::write(signal_fd_, &one, sizeof one);
  (void)n;
}

}  // namespace llmos::model_service
