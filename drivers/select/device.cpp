#include "llmos/driver/device.hpp"

#include <string>

#ifdef LLMOS_HAVE_CUDA_DRIVER
#include "llmos/driver/cuda_driver.hpp"
#endif

namespace llmos::driver {

Result<DeviceKind> parse_device(std::string_view name) {
  if (name == "auto") return DeviceKind::kAuto;
  if (name == "cpu") return DeviceKind::kCpu;
  if (name == "cuda") return DeviceKind::kCuda;
  return invalid_argument("unknown device '" + std::string(name) + "' (use cpu, cuda or auto)");
}

const char* device_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kAuto: return "auto";
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kCuda: return "cuda";
  }
  return "auto";
}

namespace {

Result<std::unique_ptr<Driver>> make_cuda(const DriverOptions& options) {
#ifdef LLMOS_HAVE_CUDA_DRIVER
  return make_cuda_driver(CudaDriverOptions{});
#else
  return unimplemented("this build of llmos has no CUDA driver (nvcc was not found when it was built)");
#endif
}

}  // namespace

Result<std::unique_ptr<Driver>> make_driver(DeviceKind kind, const DriverOptions& options) {
  if (kind == DeviceKind::kCpu) return make_cpu_driver(options);
  auto cuda = make_cuda(options);
  if (cuda.ok() || kind == DeviceKind::kCuda) return cuda;
  return make_cpu_driver(options);  // auto: no usable GPU
}

}  // namespace llmos::driver
