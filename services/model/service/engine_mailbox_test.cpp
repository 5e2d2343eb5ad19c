// EngineMailbox between two threads, as llmos-model uses it: the engine
// thread pushes steps of events, the IPC thread waits on the eventfd, clears
// the signal and pops. Every event must arrive: a lost wakeup leaves the
// consumer asleep with events waiting, which this test reports as a timeout.
#include "engine_mailbox.hpp"

#include <doctest/doctest.h>
#include <poll.h>

#include <thread>
#include <vector>

namespace llmos::model_service {
namespace {

TEST_CASE("every event the engine thread pushes reaches the IPC thread, in order") {
  EngineMailbox mailbox;
  constexpr int kSteps = 200000;
  std::thread engine([&] {
    engine::TokenEvent ev;
    for (int i = 0; i < kSteps; ++i) {
      ev.request_id = 1;
      ev.token = i;
      mailbox.on_events(std::span<const engine::TokenEvent>(&ev, 1));
      if (i % 64 == 0) std::this_thread::yield();
    }
  });
  int next = 0;
  bool stalled = false;
  while (next < kSteps) {
    pollfd p{mailbox.signal_fd(), POLLIN, 0};
    // 5 s without a signal while events are due is a lost wakeup: note it and
    // pop on regardless, so the engine thread (blocked on a full queue) ends.
    if (::poll(&p, 1, stalled ? 0 : 5000) == 0) stalled = true;
    mailbox.clear_signal();
    engine::TokenEvent ev;
    while (mailbox.pop_event(ev)) {
      REQUIRE(ev.token == next);
      ++next;
    }
  }
  engine.join();
  CHECK_FALSE(stalled);
  CHECK(next == kSteps);
}

TEST_CASE("a refused submission reaches the IPC thread with its error") {
  EngineMailbox mailbox;
  mailbox.on_refused(7, invalid_argument("the prompt is empty"));
  pollfd p{mailbox.signal_fd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 1000) == 1);
  mailbox.clear_signal();
  auto refused = mailbox.pop_refusal();
  REQUIRE(refused != nullptr);
  CHECK(refused->request_id == 7);
  CHECK(refused->status.message() == "the prompt is empty");
  CHECK(mailbox.pop_refusal() == nullptr);
}

}  // namespace
}  // namespace llmos::model_service
