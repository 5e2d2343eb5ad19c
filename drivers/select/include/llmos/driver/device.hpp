// Choosing a driver by device name: "cpu", "cuda", or "auto" (CUDA when this
// build has the CUDA driver and a GPU answers, else the CPU). Stateless
// functions: thread-safe.
#pragma once
#include <memory>
#include <string_view>

#include "llmos/common/status.hpp"
#include "llmos/driver/driver.hpp"

namespace llmos::driver {

enum class DeviceKind { kAuto, kCpu, kCuda };

// invalid_argument naming the value unless it is auto, cpu or cuda.
Result<DeviceKind> parse_device(std::string_view name);
const char* device_name(DeviceKind kind);

// kCuda fails with `unimplemented` saying why (no CUDA driver in this build,
// or no usable GPU); kAuto falls back to the CPU driver in those cases.
Result<std::unique_ptr<Driver>> make_driver(DeviceKind kind, const DriverOptions& options);

}  // namespace llmos::driver
