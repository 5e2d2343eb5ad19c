// The names of the domain enums: one table each, read both ways.
#include <array>
#include <utility>

#include "llmos/domain/finish_reason.hpp"
#include "llmos/domain/model_state.hpp"
#include "llmos/domain/priority.hpp"

namespace llmos {
namespace {

template <class E, size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";
}

template <class E, size_t N>
std::optional<E> parse(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<FinishReason, std::string_view>, 7> kFinishReasons{{
    {FinishReason::kNone, "none"},
    {FinishReason::kStop, "stop"},
    {FinishReason::kLength, "length"},
    {FinishReason::kContext, "context"},
    {FinishReason::kCancelled, "cancelled"},
    {FinishReason::kPreempted, "preempted"},
    {FinishReason::kError, "error"},
}};

constexpr std::array<std::pair<Priority, std::string_view>, 2> kPriorities{{
    {Priority::kInteractive, "interactive"},
    {Priority::kBatch, "batch"},
}};

constexpr std::array<std::pair<ModelState, std::string_view>, 5> kModelStates{{
    {ModelState::kLoading, "loading"},
    {ModelState::kReady, "ready"},
    {ModelState::kDraining, "draining"},
    {ModelState::kUnloaded, "unloaded"},
    {ModelState::kFailed, "failed"},
}};

}  // namespace

std::string_view finish_reason_name(FinishReason r) { return name_of(kFinishReasons, r); }
std::optional<FinishReason> parse_finish_reason(std::string_view name) { return parse(kFinishReasons, name); }
std::string_view priority_name(Priority p) { return name_of(kPriorities, p); }
std::optional<Priority> parse_priority(std::string_view name) { return parse(kPriorities, name); }
std::string_view model_state_name(ModelState s) { return name_of(kModelStates, s); }
std::optional<ModelState> parse_model_state(std::string_view name) { return parse(kModelStates, name); }

}  // namespace llmos
