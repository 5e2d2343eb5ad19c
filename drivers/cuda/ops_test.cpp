// The small ops on the GPU against the CPU driver on the same inputs: embed
// (every weight type, exact), rms_norm (in place too), rope (GGML normal mode,
// partial rope_dim, large positions), swiglu, add, kv_store (exact bytes),
// gather_outputs, and the memory calls. Tolerances are stated per op.
#include <doctest/doctest.h>

#include <numeric>

#include "cuda_test_util.hpp"
#include "llmos/common/fp16.hpp"

namespace llmos::cuda::testing {
namespace {

TEST_CASE("memory: alloc is 64-byte aligned, copies round-trip, info names the GPU") {
  auto gpu = make_gpu();
  CHECK(gpu->info().name == "cuda");
  CHECK_FALSE(gpu->info().details.empty());
  for (size_t bytes : {size_t(1), size_t(100), size_t(1) << 20}) {
    auto b = gpu->alloc(bytes);
    REQUIRE(b.ok());
    CHECK(reinterpret_cast<uintptr_t>((*b)->data()) % 64 == 0);
    CHECK((*b)->size() == bytes);
  }
  const auto x = random_floats(1001, 1);
  auto d = to_device(*gpu, x);
  CHECK(to_host(*gpu, d) == x);
  gpu->synchronize();
}

TEST_CASE("embed gives the exact f32 value of every row, for every weight type") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23, 1, 48};
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    for (int64_t cols : {int64_t(32), int64_t(96), int64_t(37), int64_t(4160)}) {
      if (dtype_block_elems(t) == 32 && cols % 32 != 0) continue;
      CAPTURE(dtype_name(t));
      CAPTURE(cols);
      HostWeight hw = random_weight(t, 50, cols, uint32_t(cols));
      auto dev = gpu->upload_weight(hw.w);
      REQUIRE_MESSAGE(dev.ok(), dev.status().to_string());
      HostBatch b = simple_batch(std::vector<int32_t>(ids.size(), 0), ids);
      gpu->begin_step(b.view());
      auto out = device_zeros<float>(*gpu, ids.size() * size_t(cols));
      gpu->embed(*dev, out.ptr());
      std::vector<float> want(ids.size() * size_t(cols));
      cpu->begin_step(b.view());
      cpu->embed(hw.w, want.data());
      CHECK(to_host(*gpu, out) == want);
    }
  }
}

TEST_CASE("rms_norm matches the CPU driver within 2e-6 relative, in place too") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  for (int dim : {8, 37, 64, 4099}) {
    CAPTURE(dim);
    const int n = 5;
    auto x = random_floats(size_t(n * dim), uint32_t(dim), 3.0f);
    auto g = random_floats(size_t(dim), uint32_t(dim) + 1);
    Weight gpu_gain = *gpu->upload_weight(Weight{DType::kF32, g.data(), 1, dim});
    std::vector<float> want(x.size());
    cpu->rms_norm(x.data(), Weight{DType::kF32, g.data(), 1, dim}, want.data(), n, dim, 1e-5f);
    std::vector<double> tol(want.size());
    for (size_t i = 0; i < want.size(); ++i) tol[i] = 2e-6 * std::fabs(want[i]) + 1e-7;
    auto dx = to_device(*gpu, x);
    auto dy = device_zeros<float>(*gpu, x.size());
    gpu->rms_norm(dx.ptr(), gpu_gain, dy.ptr(), n, dim, 1e-5f);
    check_close(to_host(*gpu, dy), want, tol, "rms_norm");
    gpu->rms_norm(dx.ptr(), gpu_gain, dx.ptr(), n, dim, 1e-5f);
    check_close(to_host(*gpu, dx), want, tol, "rms_norm in place");
  }
}

TEST_CASE("rope rotates like the CPU driver (GGML normal mode) within 1e-5") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  const std::vector<int32_t> positions = {0, 1, 7, 300, 1000, 4095, 32767, 131071};
  struct Case { int n_heads, head_dim, rope_dim; float base; };
  for (Case c : {Case{4, 64, 64, 10000.0f}, Case{2, 8, 8, 10000.0f}, Case{3, 64, 32, 500000.0f},
                 Case{5, 128, 128, 1000000.0f}, Case{1, 6, 2, 10000.0f}}) {
    CAPTURE(c.head_dim);
    CAPTURE(c.rope_dim);
    HostBatch b = simple_batch(positions);
    gpu->begin_step(b.view());
    cpu->begin_step(b.view());
    const int n = int(positions.size());
    auto x = random_floats(size_t(n * c.n_heads * c.head_dim), 3);
    auto dx = to_device(*gpu, x);
    // Twice in one step (q and k): the cached angle table must serve both.
    for (int call = 0; call < 2; ++call) {
      gpu->rope(dx.ptr(), c.n_heads, c.head_dim, driver::RopeSpec{c.rope_dim, c.base});
      cpu->rope(x.data(), c.n_heads, c.head_dim, driver::RopeSpec{c.rope_dim, c.base});
      // sin/cos of the same f32 angle: a few ulp apart (cosf on the device, glibc on the host).
      check_close(to_host(*gpu, dx), x, 1e-5, "rope");
    }
  }
}

TEST_CASE("swiglu within 1e-6 relative and add exactly, at odd sizes and in place") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  for (int64_t n : {int64_t(1), int64_t(37), int64_t(100003)}) {
    CAPTURE(n);
    auto g = random_floats(size_t(n), 1, 4.0f), u = random_floats(size_t(n), 2, 2.0f);
    std::vector<float> want(static_cast<size_t>(n));
    cpu->swiglu(g.data(), u.data(), want.data(), n);
    std::vector<double> tol(want.size());
    for (size_t i = 0; i < want.size(); ++i) tol[i] = 1e-6 * std::fabs(want[i]) + 1e-7;
    auto dg = to_device(*gpu, g), du = to_device(*gpu, u);
    gpu->swiglu(dg.ptr(), du.ptr(), dg.ptr(), n);  // out = gate, as the model calls it
    check_close(to_host(*gpu, dg), want, tol, "swiglu");

    auto a = random_floats(size_t(n), 3), c = random_floats(size_t(n), 4);
    auto da = to_device(*gpu, a), dc = to_device(*gpu, c);
    gpu->add(da.ptr(), dc.ptr(), n);
    cpu->add(a.data(), c.data(), n);
    CHECK(to_host(*gpu, da) == a);
  }
}

TEST_CASE("kv_store writes the same cache bytes as the CPU driver (f16 rounding to nearest even, f32)") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  for (DType kv_type : {DType::kF16, DType::kF32}) {
    KvGeometry L{3, 6, 5, 2, 12, kv_type};  // odd block size and head dim
    std::vector<int32_t> slots = {29, 0, 13, 7, 22};
    HostBatch b = simple_batch({0, 1, 2, 3, 4});
    b.slots = slots;
    const size_t kv_elems = size_t(5) * L.kv_dim();
    auto k = random_floats(kv_elems, 10, 2.0f), v = random_floats(kv_elems, 11, 2.0f);
    std::vector<uint8_t> want(L.bytes(), 0);
    cpu->begin_step(b.view());
    cpu->kv_store(L, want.data(), 1, k.data(), v.data(), 0);
    auto cache = to_device(*gpu, std::vector<uint8_t>(L.bytes(), 0));
    auto dk = to_device(*gpu, k), dv = to_device(*gpu, v);
    gpu->begin_step(b.view());
    gpu->kv_store(L, cache.ptr(), 1, dk.ptr(), dv.ptr(), 0);
    CHECK(to_host(*gpu, cache) == want);
  }
}

TEST_CASE("gather_outputs copies the output rows") {
  auto gpu = make_gpu();
  HostBatch b = simple_batch({0, 1, 2, 3, 4, 5});
  b.out_rows = {5, 0, 3};
  const int dim = 33;
  auto x = random_floats(6 * dim, 5);
  gpu->begin_step(b.view());
  auto dx = to_device(*gpu, x);
  auto dy = device_zeros<float>(*gpu, 3 * dim);
  gpu->gather_outputs(dx.ptr(), dy.ptr(), dim);
  const auto y = to_host(*gpu, dy);
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < dim; ++c) CHECK(y[size_t(i * dim + c)] == x[size_t(b.out_rows[size_t(i)] * dim + c)]);
}

}  // namespace
}  // namespace llmos::cuda::testing
