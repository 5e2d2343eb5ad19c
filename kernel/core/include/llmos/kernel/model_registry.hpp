// ModelRegistry: the kernel's record of every model and its lifecycle
// (loading -> ready -> draining -> unloaded, or failed with a reason), and the
// memory budget that a load must fit in. Pure policy: it never touches files,
// processes or sockets. Owned by the kernel's I/O thread; not thread-safe.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/domain/model_state.hpp"

namespace llmos::kernel {


enum class Device { kCpu, kCuda };
std::string_view device_name(Device device);  // "cpu", "cuda"

struct ModelSpec {
  std::string name;  // unique; [A-Za-z0-9._-] with one optional ":TAG", 1-64 characters
  std::string path;
  uint32_t ctx = 0;  // > 0
  uint32_t threads = 0;
  Device device = Device::kCpu;
  std::string chat_template_file;  // passed on to llmos-io; "" = the model's own template
};

struct MemoryEstimate {
  uint64_t weights_bytes = 0;
  uint64_t kv_bytes = 0;
  uint64_t total() const { return weights_bytes + kv_bytes; }
};

struct ModelRecord {
  ModelSpec spec;
  MemoryEstimate memory;
  ModelState state = ModelState::kLoading;
  std::string failure;  // state kFailed: why
};

class ModelRegistry {
 public:
  explicit ModelRegistry(uint64_t budget_bytes) : budget_bytes_(budget_bytes) {}

  // Registers `spec` as loading and reserves `memory` from the budget. A name
  // whose previous model ended (unloaded or failed) may be reused.
  // invalid_argument: a bad name or ctx 0, or the name is in use.
  // failed: it does not fit ("model 'm' needs N bytes (weights W + KV K for a
  // context of C tokens) but only A of the B-byte budget are available").
  Status begin_load(ModelSpec spec, MemoryEstimate memory);
  // begin_load's checks of the spec alone (name, ctx, name in use), before
  // anything is evicted to make room for it.
  Status check_spec(const ModelSpec& spec) const;

  // Transitions; anything else is invalid_argument naming both states, and an
  // unknown name is not_found. Memory is released on unloaded and failed.
  Status mark_ready(std::string_view name);     // loading -> ready
  Status begin_drain(std::string_view name);    // ready -> draining
  Status mark_unloaded(std::string_view name);  // draining -> unloaded
  Status mark_failed(std::string_view name, std::string reason);  // loading|ready|draining -> failed
  // Drops the record of a model that ended (unloaded or failed).
  Status forget(std::string_view name);

  // nullptr when unknown. The pointer is valid until the next call that changes
  // the registry.
  const ModelRecord* find(std::string_view name) const;
  std::vector<ModelRecord> list() const;  // by name

  uint64_t budget_bytes() const { return budget_bytes_; }
  uint64_t reserved_bytes() const { return reserved_bytes_; }
  uint64_t available_bytes() const { return budget_bytes_ - reserved_bytes_; }

 private:
  Status move(std::string_view name, std::initializer_list<ModelState> from, ModelState to,
              std::string reason);

  uint64_t budget_bytes_;
  uint64_t reserved_bytes_ = 0;
  std::map<std::string, ModelRecord, std::less<>> models_;
};

}  // namespace llmos::kernel
