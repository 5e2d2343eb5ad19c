// Priority: a request's scheduling class, the one declaration every layer uses.
// A plain enum; its functions are thread-safe.
#pragma once
#include <optional>
#include <string_view>

namespace llmos {

enum class Priority {
  kInteractive,  // a person is waiting: scheduled first, may preempt batch work
  kBatch,        // throughput work: runs when interactive work leaves room, ages
};

std::string_view priority_name(Priority p);  // "interactive", "batch"
std::optional<Priority> parse_priority(std::string_view name);

}  // namespace llmos
