// The CPU driver's internal entry point: make_cpu_driver() (driver.hpp) at a
// chosen ISA level, for tests and benchmarks that compare the kernel paths.
// The returned driver is owned by the caller; see driver.hpp for its contract.
#pragma once
#include <memory>

#include "cpu_features.hpp"
#include "llmos/driver/driver.hpp"

namespace llmos::cpu {

// Like make_cpu_driver(options), but with the kernels of `level` (capped at
// what the CPU supports) and no LLMOS_CPU_ISA lookup.
Result<std::unique_ptr<driver::Driver>> make_cpu_driver_at(const driver::DriverOptions& options,
                                                           IsaLevel level);

// Threads a driver uses for options.threads == 0: the CPUs this process may run on.
int default_cpu_threads();

}  // namespace llmos::cpu
