// Time behind an interface (conventions.md, rule 7): the kernel's policies take
// a Clock so tests drive them with a ManualClock. SteadyClock is thread-safe;
// a ManualClock is advanced by one thread (the test).
#pragma once
#include <chrono>

namespace llmos::kernel {

using Duration = std::chrono::steady_clock::duration;
using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// Stands still until advanced. Starts an hour past the epoch so that
// "now - duration" never goes below zero in tests.
class ManualClock final : public Clock {
 public:
  ManualClock() : now_(TimePoint{} + std::chrono::hours(1)) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace llmos::kernel
