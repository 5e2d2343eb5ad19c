// The model-family ops on the GPU against the CPU driver on the same inputs:
// rope (NEOX, frequency divisors), geglu, add_bias, scale, copy_columns,
// moe_route (exact ids) and moe_ffn (f32, f16, q8_0 and q4_0 experts, several batch
// sizes).
#include <doctest/doctest.h>

#include "cuda_test_util.hpp"
#include "llmos/driver/testing/reference_ops.hpp"

namespace llmos::cuda::testing {
namespace {

TEST_CASE("rope in NEOX order and with frequency divisors matches the CPU driver") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  const std::vector<int32_t> positions = {0, 3, 77, 511, 4000};
  const int n = int(positions.size()), n_heads = 3, head_dim = 64;
  std::vector<float> factors(32);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + float(i % 4) * 2.5f;
  auto dfactors = to_device(*gpu, factors);
  for (bool neox : {false, true}) {
    for (bool with_factors : {false, true}) {
      CAPTURE(neox);
      CAPTURE(with_factors);
      HostBatch b = simple_batch(positions);
      gpu->begin_step(b.view());
      cpu->begin_step(b.view());
      auto x = random_floats(size_t(n * n_heads * head_dim), 9);
      auto dx = to_device(*gpu, x);
      const auto mode = neox ? driver::RopeMode::kNeox : driver::RopeMode::kNormal;
      gpu->rope(dx.ptr(), n_heads, head_dim, driver::RopeSpec{64, 500000.0f, mode, with_factors ? dfactors.ptr() : nullptr});
      cpu->rope(x.data(), n_heads, head_dim, driver::RopeSpec{64, 500000.0f, mode, with_factors ? factors.data() : nullptr});
      check_close(to_host(*gpu, dx), x, 2e-5 + 3e-7 * 4000, "rope");
    }
  }
}

TEST_CASE("geglu, add_bias, scale and copy_columns match the CPU driver") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  const int n = 7, cols = 300;
  const auto gate = random_floats(size_t(n * cols), 1, 6.0f);
  const auto up = random_floats(size_t(n * cols), 2);
  auto dg = to_device(*gpu, gate), du = to_device(*gpu, up);
  std::vector<float> out(gate.size());
  cpu->geglu(gate.data(), up.data(), out.data(), int64_t(out.size()));
  gpu->geglu(dg.ptr(), du.ptr(), dg.ptr(), int64_t(out.size()));
  check_close(to_host(*gpu, dg), out, 1e-5, "geglu");

  const auto bias = random_floats(size_t(cols), 3);
  auto dbias = to_device(*gpu, bias);
  auto x = up;
  auto dx = to_device(*gpu, x);
  cpu->add_bias(x.data(), Weight{DType::kF32, bias.data(), 1, cols}, n);
  gpu->add_bias(dx.ptr(), Weight{DType::kF32, dbias.ptr(), 1, cols}, n);
  cpu->scale(x.data(), 16.0f, int64_t(x.size()));
  gpu->scale(dx.ptr(), 16.0f, int64_t(x.size()));
  CHECK(to_host(*gpu, dx) == x);

  std::vector<float> part(size_t(n * 100));
  auto dpart = device_zeros<float>(*gpu, part.size());
  cpu->copy_columns(x.data(), cols, 150, 100, part.data(), n);
  gpu->copy_columns(dx.ptr(), cols, 150, 100, dpart.ptr(), n);
  CHECK(to_host(*gpu, dpart) == part);
}

TEST_CASE("moe_route and moe_ffn match the CPU driver: same experts, same weighted sum") {
  auto gpu = make_gpu();
  auto cpu = make_cpu();
  const int dim = 64, ffn = 96, n_experts = 8, k = 2;
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_0}) {
    HostWeight gate = random_weight(type, n_experts * ffn, dim, 31, 0.2f);
    HostWeight up = random_weight(type, n_experts * ffn, dim, 32, 0.2f);
    HostWeight down = random_weight(type, n_experts * dim, ffn, 33, 0.2f);
    // Quantized experts: the CPU runs their dequantized values as f32, so the
    // GPU's row ranges dequantized per expert are checked against exact weights.
    const bool quant = dtype_is_quantized(type);
    auto on_cpu = [&](const HostWeight& h) {
      return quant ? Weight{DType::kF32, h.values.data(), h.w.rows, h.w.cols} : h.w;
    };
    driver::ExpertWeights cw{on_cpu(gate), on_cpu(up), on_cpu(down), n_experts, ffn};
    driver::ExpertWeights gw{*gpu->upload_weight(gate.w), *gpu->upload_weight(up.w), *gpu->upload_weight(down.w),
                             n_experts, ffn};
    for (int n : {1, 5, 40}) {
      CAPTURE(dtype_name(type));
      CAPTURE(n);
      const auto logits = random_floats(size_t(n * n_experts), uint32_t(40 + n), 2.0f);
      const auto x = random_floats(size_t(n * dim), uint32_t(50 + n));
      std::vector<int32_t> ids(size_t(n * k));
      std::vector<float> w(size_t(n * k)), y(size_t(n * dim));
      std::vector<float> scratch(driver::moe_scratch_floats(n, k, dim, ffn));
      cpu->moe_route(logits.data(), n, n_experts, k, ids.data(), w.data());
      cpu->moe_ffn(cw, x.data(), ids.data(), w.data(), n, k, y.data(), scratch.data());
      auto dl = to_device(*gpu, logits), dx = to_device(*gpu, x);
      auto dids = device_zeros<int32_t>(*gpu, ids.size());
      auto dw = device_zeros<float>(*gpu, w.size()), dy = device_zeros<float>(*gpu, y.size());
      auto dscratch = device_zeros<float>(*gpu, scratch.size());
      gpu->moe_route(dl.ptr(), n, n_experts, k, dids.ptr(), dw.ptr());
      CHECK(to_host(*gpu, dids) == ids);
      check_close(to_host(*gpu, dw), w, 1e-6, "routing weights");
      gpu->moe_ffn(gw, dx.ptr(), dids.ptr(), dw.ptr(), n, k, dy.ptr(), dscratch.ptr());
      // f16 experts: the GPU rounds activations to f16 for cuBLAS, the CPU does
      // not; quantized ones also round each dequantized weight to f16.
      check_close(to_host(*gpu, dy), y, type == DType::kF32 ? 1e-4 : quant ? 5e-3 : 3e-3, "moe_ffn");
    }
  }
}

}  // namespace
}  // namespace llmos::cuda::testing
