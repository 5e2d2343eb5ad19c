// RequestState: where an admitted request is in its life inside the kernel. The
// Scheduler owns each request's state and changes it only through its transition
// methods, which check the state they start from (docs/microkernel.md, "A
// request's life in the kernel"). A plain value; no thread-safety concerns.
#pragma once
#include <string_view>

namespace llmos::kernel {

// Transitions (Scheduler methods; the table in docs/microkernel.md):
//   submit                         → kQueued
//   kQueued, kPreempted            → kRunning      schedule (the kernel dispatches it)
//   kRunning                       → kPreempting   begin_preempt (the kernel sent `preempt`)
//   kPreempting                    → kPreempted    requeue_preempted (its service's `preempted`)
//   kRunning, kPreempting          → kCancelling   cancel (forwarded to its service)
//   kRunning, kPreempting          → kQueued       requeue_after_crash (re-dispatched later)
//   kQueued, kPreempted            → finished      cancel
//   kCancelling                    → finished      requeue_after_crash; the caller's finish after
//                                                  requeue_preempted says kCancelled
//   any                            → finished      finish, remove_model
// A finished request is no longer tracked: its id is unknown.
enum class RequestState {
  kQueued,      // waits to start: not yet dispatched, or its model service died while running it
  kRunning,     // dispatched: its model service generates it
  kPreempting,  // running; the kernel asked its service to take it off (`preempt`)
  kPreempted,   // taken off by its service; waits at the front of its queue with its tokens
  kCancelling,  // running (or preempting); its service was told to cancel it
};

// "queued", "running", "preempting", "preempted", "cancelling".
std::string_view request_state_name(RequestState s);

// Dispatched and not taken back: its model service holds it.
inline bool held_by_service(RequestState s) {
  return s == RequestState::kRunning || s == RequestState::kPreempting || s == RequestState::kCancelling;
}

}  // namespace llmos::kernel
