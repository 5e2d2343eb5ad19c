// The small ops at every ISA level against their formulas: rope (GGML normal
// mode), rms_norm, swiglu, add, embed, gather_outputs; and the memory calls.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "cpu_test_util.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/driver/testing/paged_batch.hpp"

namespace llmos::cpu {
namespace {

using driver::Weight;
using driver::testing::HostBatch;
using driver::testing::simple_batch;
using testing::available_levels;
using testing::driver_at;
using testing::random_floats;

TEST_CASE("rope rotates pairs (2i, 2i+1) of the first rope_dim dims by pos * base^(-2i/rope_dim)") {
  const std::vector<int32_t> positions = {0, 1, 7, 300, 1000, 4095};
  struct Case { int n_heads, head_dim, rope_dim; float base; };
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (Case c : {Case{4, 64, 64, 10000.0f}, Case{2, 8, 8, 10000.0f}, Case{3, 64, 32, 500000.0f}}) {
      HostBatch b = simple_batch(positions);
      drv->begin_step(b.view());
      const int n = int(positions.size());
      const auto x0 = random_floats(size_t(n * c.n_heads * c.head_dim), 3);
      // Twice in one step: the cached angles must serve the second call too.
      for (int call = 0; call < 2; ++call) {
        auto x = x0;
        drv->rope(x.data(), c.n_heads, c.head_dim, driver::RopeSpec{c.rope_dim, c.base});
        int bad = 0;
        for (int t = 0; t < n; ++t)
          for (int h = 0; h < c.n_heads; ++h) {
            const float* in = x0.data() + (size_t(t) * c.n_heads + h) * c.head_dim;
            const float* got = x.data() + (size_t(t) * c.n_heads + h) * c.head_dim;
            for (int i = 0; i < c.head_dim / 2; ++i) {
              double w0 = in[2 * i], w1 = in[2 * i + 1];
              if (2 * i < c.rope_dim) {
                const double theta = positions[size_t(t)] * std::pow(double(c.base), -2.0 * i / c.rope_dim);
                const double r0 = w0 * std::cos(theta) - w1 * std::sin(theta);
                const double r1 = w0 * std::sin(theta) + w1 * std::cos(theta);
                w0 = r0;
                w1 = r1;
              }
              // f32 angles: the error grows with the position (GGML computes them the same way)
              const double tol = 1e-5 + 3e-7 * positions[size_t(t)];
              bad += !(std::fabs(got[2 * i] - w0) <= tol) + !(std::fabs(got[2 * i + 1] - w1) <= tol);
            }
          }
        INFO(isa_level_name(level) << " rope_dim " << c.rope_dim << " head_dim " << c.head_dim);
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("rms_norm, swiglu and add match their formulas") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (int dim : {1, 7, 64, 768, 4099}) {
      for (int n : {1, 3, 40}) {
        const auto x = random_floats(size_t(n * dim), uint32_t(dim + n), 3.0f);
        const auto g = random_floats(size_t(dim), 11);
        const Weight gain{DType::kF32, g.data(), 1, dim};
        std::vector<float> y(x.size(), NAN);
        drv->rms_norm(x.data(), gain, y.data(), n, dim, 1e-5f);
        int bad = 0;
        for (int t = 0; t < n; ++t) {
          double ss = 0;
          for (int i = 0; i < dim; ++i) ss += double(x[size_t(t * dim + i)]) * x[size_t(t * dim + i)];
          const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
          for (int i = 0; i < dim; ++i) {
            const double want = x[size_t(t * dim + i)] * inv * g[size_t(i)];
            bad += !(std::fabs(y[size_t(t * dim + i)] - want) <= 1e-5 * std::fabs(want) + 1e-6);
          }
        }
        INFO(isa_level_name(level) << " rms_norm dim=" << dim << " n=" << n);
        CHECK(bad == 0);
      }
    }
    for (int64_t n : {1, 15, 16, 17, 1000, 200000}) {
      auto gate = random_floats(size_t(n), 5, 4.0f);
      if (n > 4) {
        gate[0] = 90.0f;  // exp overflows without the clamp
        gate[1] = -90.0f;
        gate[2] = 0.0f;
      }
      const auto up = random_floats(size_t(n), 6);
      std::vector<float> out(size_t(n), NAN);
      drv->swiglu(gate.data(), up.data(), out.data(), n);
      int bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double g = gate[size_t(i)];
        const double want = g / (1.0 + std::exp(-g)) * up[size_t(i)];
        bad += !(std::fabs(out[size_t(i)] - want) <= 2e-6 * std::fabs(want) + 1e-7);
      }
      auto sum = gate;
      drv->add(sum.data(), up.data(), n);
      for (int64_t i = 0; i < n; ++i) bad += sum[size_t(i)] != gate[size_t(i)] + up[size_t(i)];
      INFO(isa_level_name(level) << " swiglu/add n=" << n);
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("rms_norm in place and swiglu over its inputs give the same results") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    const int dim = 100, n = 700;  // n * dim large enough for the parallel path
    const auto x = random_floats(size_t(n * dim), 8);
    const auto g = random_floats(size_t(dim), 9);
    const Weight gain{DType::kF32, g.data(), 1, dim};
    std::vector<float> separate(x.size()), inplace = x;
    drv->rms_norm(x.data(), gain, separate.data(), n, dim, 1e-6f);
    drv->rms_norm(inplace.data(), gain, inplace.data(), n, dim, 1e-6f);
    CHECK(inplace == separate);

    const auto up = random_floats(x.size(), 10);
    std::vector<float> out(x.size()), over_gate = x, over_up = up;
    drv->swiglu(x.data(), up.data(), out.data(), int64_t(x.size()));
    drv->swiglu(over_gate.data(), up.data(), over_gate.data(), int64_t(x.size()));
    drv->swiglu(x.data(), over_up.data(), over_up.data(), int64_t(x.size()));
    INFO(isa_level_name(level));
    CHECK(over_gate == out);
    CHECK(over_up == out);
  }
}

TEST_CASE("embed dequantizes the rows of any weight type; gather_outputs picks rows") {
  const int64_t vocab = 50, dim = 96;
  const auto f = random_floats(size_t(vocab * dim), 21);
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
      const size_t row_bytes = size_t(dtype_row_bytes(type, dim));
      std::vector<uint8_t> table(row_bytes * vocab);
      for (int64_t r = 0; r < vocab; ++r) quantize_row(type, f.data() + r * dim, table.data() + r * row_bytes, dim);
      HostBatch b = simple_batch({0, 1, 2, 3, 4});
      b.ids = {49, 0, 7, 7, 13};
      b.out_rows = {4, 0, 2};
      drv->begin_step(b.view());
      std::vector<float> out(5 * dim, NAN), want(dim);
      drv->embed(Weight{type, table.data(), vocab, dim}, out.data());
      for (int t = 0; t < 5; ++t) {
        dequantize_row(type, table.data() + size_t(b.ids[size_t(t)]) * row_bytes, want.data(), dim);
        CHECK(std::memcmp(out.data() + t * dim, want.data(), dim * sizeof(float)) == 0);
      }
      std::vector<float> picked(3 * dim, NAN);
      drv->gather_outputs(out.data(), picked.data(), int(dim));
      for (int i = 0; i < 3; ++i)
        CHECK(std::memcmp(picked.data() + i * dim, out.data() + b.out_rows[size_t(i)] * dim, dim * 4) == 0);
    }
  }
}

TEST_CASE("memory: aligned allocations, copies, weights used in place") {
  auto drv = driver_at(detect_isa_level());
  for (size_t bytes : {size_t(1), size_t(100), size_t(1) << 20}) {
    auto buf = drv->alloc(bytes);
    REQUIRE(buf.ok());
    CHECK((*buf)->size() == bytes);
    CHECK(reinterpret_cast<uintptr_t>((*buf)->data()) % 64 == 0);
    std::vector<uint8_t> src(bytes), back(bytes);
    for (size_t i = 0; i < bytes; ++i) src[i] = uint8_t(i * 7);
    drv->copy_to_device((*buf)->data(), src.data(), bytes);
    drv->synchronize();
    drv->copy_to_host(back.data(), (*buf)->data(), bytes);
    CHECK(back == src);
  }
  float data[4] = {1, 2, 3, 4};
  const Weight host{DType::kF32, data, 1, 4};
  auto up = drv->upload_weight(host);
  REQUIRE(up.ok());
  CHECK(up->data == data);
}

}  // namespace
}  // namespace llmos::cpu
