#include <doctest/doctest.h>

#include "llmos/domain/finish_reason.hpp"
#include "llmos/domain/model_state.hpp"
#include "llmos/domain/priority.hpp"

using namespace llmos;

TEST_CASE("every finish reason has a name that parses back to it") {
  for (auto r : {FinishReason::kNone, FinishReason::kStop, FinishReason::kLength, FinishReason::kContext,
                 FinishReason::kCancelled, FinishReason::kPreempted, FinishReason::kError}) {
    CHECK(parse_finish_reason(finish_reason_name(r)) == r);
  }
  CHECK(finish_reason_name(FinishReason::kContext) == "context");
  CHECK(!parse_finish_reason("eos").has_value());
}

TEST_CASE("priorities and model states are named as the CLI and the API show them") {
  CHECK(priority_name(Priority::kInteractive) == "interactive");
  CHECK(parse_priority("batch") == Priority::kBatch);
  CHECK(!parse_priority("urgent").has_value());
  for (auto s : {ModelState::kLoading, ModelState::kReady, ModelState::kDraining, ModelState::kUnloaded,
                 ModelState::kFailed}) {
    CHECK(parse_model_state(model_state_name(s)) == s);
  }
  CHECK(model_state_name(ModelState::kDraining) == "draining");
}
