// ModelState: where a loaded model is in its life, the one declaration every
// layer uses (the kernel's registry, the HTTP API, the client library).
// A plain enum; its functions are thread-safe.
#pragma once
#include <optional>
#include <string_view>

namespace llmos {

enum class ModelState {
  kLoading,   // validating the file, reserving memory, starting its service
  kReady,     // serving
  kDraining,  // unload asked for: finishes admitted requests, admits none
  kUnloaded,  // gone; its memory is released
  kFailed,    // the load or its service failed; the record says why
};

std::string_view model_state_name(ModelState s);  // "loading", "ready", ...
std::optional<ModelState> parse_model_state(std::string_view name);

}  // namespace llmos
