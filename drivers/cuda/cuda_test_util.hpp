// Helpers shared by the CUDA driver tests: drivers (CUDA under test, CPU as the
// reference), device arrays, seeded random weights of every type with their
// exact f32 values, batches, and a tolerance check that names the worst element.
// Test-only; not thread-safe.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "llmos/common/quant.hpp"
#include "llmos/driver/cuda_driver.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/driver/testing/paged_batch.hpp"
#include "llmos/driver/testing/random_data.hpp"

namespace llmos::cuda::testing {

using driver::Driver;
using driver::StepBatch;
using driver::Weight;

inline std::unique_ptr<Driver> make_gpu(const driver::CudaDriverOptions& o = {}) {
  auto d = driver::make_cuda_driver(o);
  REQUIRE_MESSAGE(d.ok(), d.status().to_string());
  return std::move(d).value();
}

inline std::unique_ptr<Driver> make_cpu() {
  driver::DriverOptions o;
  o.threads = 2;
  auto d = driver::make_cpu_driver(o);
  REQUIRE(d.ok());
  return std::move(d).value();
}

// Seeded data and batches: drivers/testing, shared with the CPU driver's tests.
using driver::testing::HostBatch;
using driver::testing::random_floats;
using driver::testing::simple_batch;

// Device memory of the driver under test, filled from / read back to host vectors.
template <class T>
struct DeviceArray {
  std::unique_ptr<driver::DeviceBuffer> buf;
  size_t n = 0;
  T* ptr() const { return static_cast<T*>(buf->data()); }
};
template <class T>
DeviceArray<T> to_device(Driver& d, const std::vector<T>& host) {
  DeviceArray<T> a;
  auto b = d.alloc(std::max<size_t>(1, host.size()) * sizeof(T));
  REQUIRE_MESSAGE(b.ok(), b.status().to_string());
  a.buf = std::move(*b);
  a.n = host.size();
  d.copy_to_device(a.ptr(), host.data(), host.size() * sizeof(T));
  return a;
}
template <class T>
DeviceArray<T> device_zeros(Driver& d, size_t n) {
  return to_device(d, std::vector<T>(n, T{}));
}
template <class T>
std::vector<T> to_host(Driver& d, const DeviceArray<T>& a) {
  std::vector<T> h(a.n);
  d.copy_to_host(h.data(), a.ptr(), a.n * sizeof(T));
  return h;
}

// A weight in host memory (as in a GGUF file) and the exact f32 value of each element.
struct HostWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // [rows][cols], dequantized
  Weight w;
};
inline HostWeight random_weight(DType type, int64_t rows, int64_t cols, uint32_t seed, float scale = 0.5f) {
  HostWeight h;
  const auto f = random_floats(size_t(rows * cols), seed, scale);
  const size_t row_bytes = size_t(dtype_row_bytes(type, cols));
  h.bytes.resize(std::max<size_t>(1, row_bytes * size_t(rows)));
  h.values.resize(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, f.data() + r * cols, h.bytes.data() + size_t(r) * row_bytes, cols);
    dequantize_row(type, h.bytes.data() + size_t(r) * row_bytes, h.values.data() + r * cols, cols);
  }
  h.w = Weight{type, h.bytes.data(), rows, cols};
  return h;
}

// CHECKs |got[i] - want[i]| <= tol[i] for all i; reports the worst element once.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<double>& tol,
                        const std::string& what) {
  REQUIRE(got.size() == want.size());
  size_t worst = 0;
  double worst_ratio = -1.0;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    const double ratio = std::isnan(err) ? 1e30 : err / std::max(tol[i], 1e-30);
    if (ratio > 1.0) ++bad;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << got.size() << " elements outside tolerance; worst at "
                                << worst << ": got " << got[worst] << ", want " << want[worst] << ", tolerance "
                                << tol[worst]);
}
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                        const std::string& what) {
  check_close(got, want, std::vector<double>(want.size(), atol), what);
}

}  // namespace llmos::cuda::testing
