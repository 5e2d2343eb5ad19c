#include "llmos/kernel/model_registry.hpp"

#include <algorithm>

namespace llmos::kernel {
namespace {

// NAME or NAME:TAG (as the model store names models), each part non-empty.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  const size_t colon = name.find(':');
  if (colon != std::string_view::npos &&
      (colon == 0 || colon + 1 == name.size() || name.find(':', colon + 1) != std::string_view::npos))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == ':';
  });
}

bool holds_memory(ModelState s) {
  return s == ModelState::kLoading || s == ModelState::kReady || s == ModelState::kDraining;
}

}  // namespace

std::string_view device_name(Device device) {
  return device == Device::kCuda ? "cuda" : "cpu";
}

Status ModelRegistry::check_spec(const ModelSpec& spec) const {
  const std::string& name = spec.name;
  if (!valid_name(name)) {
    return invalid_argument("model name '" + name +
                            "' must be 1-64 characters of letters, digits, '.', '_' or '-', with one optional ':TAG'");
  }
  if (spec.ctx == 0) return invalid_argument("model '" + name + "': context length must be positive");
  auto it = models_.find(name);
  if (it != models_.end() && holds_memory(it->second.state)) {
    return invalid_argument("a model named '" + name + "' is already " +
                            std::string(model_state_name(it->second.state)) +
                            "; unload it first or choose another name");
  }
  return ok_status();
}

Status ModelRegistry::begin_load(ModelSpec spec, MemoryEstimate memory) {
  LLMOS_RETURN_IF_ERROR(check_spec(spec));
  const std::string& name = spec.name;
  if (memory.total() > available_bytes() || memory.total() < memory.weights_bytes) {
    return failed("model '" + name + "' needs " + std::to_string(memory.total()) + " bytes (weights " +
                  std::to_string(memory.weights_bytes) + " + KV " + std::to_string(memory.kv_bytes) +
                  " for a context of " + std::to_string(spec.ctx) + " tokens) but only " +
                  std::to_string(available_bytes()) + " of the " + std::to_string(budget_bytes_) +
                  "-byte budget are available");
  }
  reserved_bytes_ += memory.total();
  auto it = models_.find(name);
  ModelRecord record{std::move(spec), memory, ModelState::kLoading, {}};
  if (it != models_.end()) {
    it->second = std::move(record);
  } else {
    std::string key = record.spec.name;
    models_.emplace(std::move(key), std::move(record));
  }
  return ok_status();
}

Status ModelRegistry::move(std::string_view name, std::initializer_list<ModelState> from,
                           ModelState to, std::string reason) {
  auto it = models_.find(name);
  if (it == models_.end()) return not_found("no model named '" + std::string(name) + "'");
  ModelRecord& m = it->second;
  if (std::find(from.begin(), from.end(), m.state) == from.end()) {
    return invalid_argument("model '" + std::string(name) + "' is " +
                            std::string(model_state_name(m.state)) + " and cannot become " +
                            std::string(model_state_name(to)));
  }
  if (holds_memory(m.state) && !holds_memory(to)) reserved_bytes_ -= m.memory.total();
  m.state = to;
  if (to == ModelState::kFailed) m.failure = std::move(reason);
  return ok_status();
}

Status ModelRegistry::mark_ready(std::string_view name) {
  return move(name, {ModelState::kLoading}, ModelState::kReady, {});
}

Status ModelRegistry::begin_drain(std::string_view name) {
  return move(name, {ModelState::kReady}, ModelState::kDraining, {});
}

Status ModelRegistry::mark_unloaded(std::string_view name) {
  return move(name, {ModelState::kDraining}, ModelState::kUnloaded, {});
}

Status ModelRegistry::mark_failed(std::string_view name, std::string reason) {
  return move(name, {ModelState::kLoading, ModelState::kReady, ModelState::kDraining},
              ModelState::kFailed, std::move(reason));
}

Status ModelRegistry::forget(std::string_view name) {
  auto it = models_.find(name);
  if (it == models_.end()) return not_found("no model named '" + std::string(name) + "'");
  if (holds_memory(it->second.state)) {
    return invalid_argument("model '" + std::string(name) + "' is " +
                            std::string(model_state_name(it->second.state)) +
                            "; only an unloaded or failed model can be forgotten");
  }
  models_.erase(it);
  return ok_status();
}

const ModelRecord* ModelRegistry::find(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<ModelRecord> ModelRegistry::list() const {
  std::vector<ModelRecord> out;
  out.reserve(models_.size());
  for (const auto& [name, record] : models_) out.push_back(record);
  return out;
}

}  // namespace llmos::kernel
