// The ops the model families beyond plain llama use, at every ISA level,
// against double-precision formulas: RoPE in NEOX order and with Llama 3's
// frequency divisors, GELU gating, bias add, scaling, column splits, and a
// mixture of experts (routing and the grouped expert FFN).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cpu_test_util.hpp"
#include "llmos/driver/testing/paged_batch.hpp"
#include "llmos/driver/testing/reference_ops.hpp"

namespace llmos::cpu {
namespace {

using driver::Weight;
using driver::testing::HostBatch;
using driver::testing::simple_batch;
using testing::available_levels;
using testing::driver_at;
using testing::random_floats;

TEST_CASE("rope: NEOX pairs (i, i + rope_dim/2), per-dimension frequency divisors, linear scaling") {
  const std::vector<int32_t> positions = {0, 1, 7, 300, 511};
  struct Case {
    int n_heads, head_dim, rope_dim;
    float base;
    bool neox, factors;
    float scale = 1.0f;
  };
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (Case c : {Case{4, 64, 64, 1e6f, true, false}, Case{2, 128, 128, 10000.0f, true, false},
                   Case{3, 64, 32, 500000.0f, false, true}, Case{2, 64, 64, 500000.0f, true, true},
                   Case{2, 64, 64, 1e6f, true, false, 0.125f}, Case{2, 32, 32, 10000.0f, false, true, 0.5f}}) {
      HostBatch b = simple_batch(positions);
      drv->begin_step(b.view());
      const int n = int(positions.size());
      const auto x0 = random_floats(size_t(n * c.n_heads * c.head_dim), 5);
      std::vector<float> factors(size_t(c.rope_dim / 2));
      for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + float(i % 5) * 1.75f;
      auto x = x0;
      driver::RopeSpec spec{c.rope_dim, c.base, c.neox ? driver::RopeMode::kNeox : driver::RopeMode::kNormal,
                            c.factors ? factors.data() : nullptr, c.scale};
      drv->rope(x.data(), c.n_heads, c.head_dim, spec);
      std::vector<double> want(x0.begin(), x0.end());
      driver::testing::reference_rope(want, positions, c.n_heads, c.head_dim, c.rope_dim, c.base, c.neox,
                                      c.factors ? factors.data() : nullptr, c.scale);
      int bad = 0;
      for (size_t i = 0; i < x.size(); ++i) bad += !(std::fabs(x[i] - want[i]) <= 1e-5 + 3e-7 * 511);
      INFO(isa_level_name(level) << " neox " << c.neox << " factors " << c.factors << " rope_dim " << c.rope_dim);
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("geglu, add_bias, scale and copy_columns match their formulas") {
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    INFO(isa_level_name(level));
    const int n = 5, cols = 37;
    const auto gate = random_floats(size_t(n * cols), 1, 6.0f);
    const auto up = random_floats(size_t(n * cols), 2);
    std::vector<float> out(gate.size());
    drv->geglu(gate.data(), up.data(), out.data(), int64_t(out.size()));
    int bad = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double g = gate[i];
      const double want = 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g))) * up[i];
      bad += !(std::fabs(out[i] - want) <= 1e-5 * (1.0 + std::fabs(want)));
    }
    CHECK(bad == 0);

    const auto bias = random_floats(size_t(cols), 3);
    auto x = up;
    drv->add_bias(x.data(), Weight{DType::kF32, bias.data(), 1, cols}, n);
    bad = 0;
    for (int t = 0; t < n; ++t)
      for (int c = 0; c < cols; ++c) bad += x[size_t(t * cols + c)] != up[size_t(t * cols + c)] + bias[size_t(c)];
    CHECK(bad == 0);

    x = up;
    drv->scale(x.data(), 16.0f, int64_t(x.size()));
    bad = 0;
    for (size_t i = 0; i < x.size(); ++i) bad += x[i] != up[i] * 16.0f;
    CHECK(bad == 0);

    std::vector<float> part(size_t(n * 10), NAN);
    drv->copy_columns(up.data(), cols, 20, 10, part.data(), n);
    bad = 0;
    for (int t = 0; t < n; ++t)
      for (int c = 0; c < 10; ++c) bad += part[size_t(t * 10 + c)] != up[size_t(t * cols + 20 + c)];
    CHECK(bad == 0);
  }
}

TEST_CASE("moe_route: softmax over all experts, the top k best first, renormalised") {
  auto drv = driver_at(IsaLevel::kScalar);
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f,   // token 0: experts 1, 3
                                     3.0f, 3.0f, 0.0f, -2.0f};  // token 1: a tie, the lower id first
  std::vector<int32_t> ids(4, -1);
  std::vector<float> w(4, NAN);
  drv->moe_route(logits.data(), 2, 4, 2, ids.data(), w.data());
  CHECK(ids == std::vector<int32_t>{1, 3, 0, 1});
  const double e2 = std::exp(2.0), e1 = std::exp(1.0);
  CHECK(w[0] == doctest::Approx(e2 / (e2 + e1)).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(e1 / (e2 + e1)).epsilon(1e-6));
  CHECK(w[2] == doctest::Approx(0.5).epsilon(1e-6));
  CHECK(w[3] == doctest::Approx(0.5).epsilon(1e-6));
}

TEST_CASE("moe_ffn: the routed experts' SwiGLU FFNs weighted, any batch size") {
  const int dim = 64, ffn = 48, n_experts = 6, k = 2;
  const auto router = random_floats(size_t(n_experts * dim), 21, 0.5f);
  const auto gate = random_floats(size_t(n_experts * ffn * dim), 22, 0.2f);
  const auto up = random_floats(size_t(n_experts * ffn * dim), 23, 0.2f);
  const auto down = random_floats(size_t(n_experts * dim * ffn), 24, 0.2f);
  for (IsaLevel level : available_levels()) {
    auto drv = driver_at(level);
    for (int n : {1, 3, 17}) {
      const auto x = random_floats(size_t(n * dim), uint32_t(30 + n));
      std::vector<float> logits(size_t(n * n_experts)), wts(size_t(n * k)), y(size_t(n * dim), NAN);
      std::vector<int32_t> ids(size_t(n * k));
      std::vector<float> scratch(driver::moe_scratch_floats(n, k, dim, ffn));
      drv->matmul(Weight{DType::kF32, router.data(), n_experts, dim}, x.data(), logits.data(), n);
      drv->moe_route(logits.data(), n, n_experts, k, ids.data(), wts.data());
      driver::ExpertWeights w{Weight{DType::kF32, gate.data(), n_experts * ffn, dim},
                              Weight{DType::kF32, up.data(), n_experts * ffn, dim},
                              Weight{DType::kF32, down.data(), n_experts * dim, ffn}, n_experts, ffn};
      drv->moe_ffn(w, x.data(), ids.data(), wts.data(), n, k, y.data(), scratch.data());
      const auto want = driver::testing::reference_moe(x, router, n, dim, n_experts, k, ffn, gate, up, down);
      int bad = 0;
      for (size_t i = 0; i < y.size(); ++i) bad += !(std::fabs(y[i] - want[i]) <= 1e-4 * (1.0 + std::fabs(want[i])));
      INFO(isa_level_name(level) << " n " << n);
      CHECK(bad == 0);
    }
  }
}

}  // namespace
}  // namespace llmos::cpu
