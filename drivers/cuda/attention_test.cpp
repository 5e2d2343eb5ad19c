// kv_store + attention on the GPU against the CPU driver and a double-precision
// reference that reads the cache through its documented layout: GQA ratios
// 1/2/3/4/8, head dims from 8 to 256 (and ones the vector loads cannot take),
// f16 and f32 caches, odd block sizes, shuffled block tables, mixed batches
// (prefill chunks continuing a cached prefix, decode tokens, short runs), long
// contexts through the split path, and a cache pointer off 16-byte alignment.
// Tolerance: 3e-5 * max|v| + 1e-6 against the reference (f32 sums and expf);
// against the CPU driver, twice that.
#include <doctest/doctest.h>

#include "cuda_test_util.hpp"
#include "llmos/driver/testing/paged_batch.hpp"
#include "llmos/driver/testing/reference_ops.hpp"

namespace llmos::cuda::testing {
namespace {

using driver::testing::reference_attention;
using driver::testing::shuffled_tables;
using Seq = driver::testing::SeqSpan;

struct Scenario {
  KvGeometry L;
  int n_heads;
  std::vector<Seq> seqs;
  driver::CudaDriverOptions opts;
  bool misalign = false;  // hand attention a cache pointer one element past a 16-byte boundary
  int window = 0;         // sliding window (0: all positions)
};

void run_scenario(const Scenario& sc, uint32_t seed) {
  const KvGeometry& L = sc.L;
  const int hd = L.head_dim, kv_dim = L.kv_dim();
  int total_fresh = 0, total_cached = 0;
  for (const Seq& s : sc.seqs) {
    total_fresh += s.fresh;
    total_cached += s.cached;
  }
  const auto tables = shuffled_tables(sc.seqs, L.n_blocks, L.block_size, seed);

  auto gpu = make_gpu(sc.opts);
  auto cpu = make_cpu();
  const size_t pad = sc.misalign ? L.elem_bytes() : 0;
  std::vector<uint8_t> cpu_kv(L.bytes() + pad, 0);
  auto gpu_kv_buf = to_device(*gpu, std::vector<uint8_t>(L.bytes() + pad, 0));
  uint8_t* gpu_kv = gpu_kv_buf.ptr() + pad;
  const int layer = L.n_layers - 1;

  // Step 1: the cached prefixes (kv_store only).
  if (total_cached > 0) {
    HostBatch pre = tables.prefix_batch(sc.seqs);
    const auto k = random_floats(size_t(total_cached) * kv_dim, seed + 1);
    const auto v = random_floats(size_t(total_cached) * kv_dim, seed + 2);
    cpu->begin_step(pre.view());
    cpu->kv_store(L, cpu_kv.data() + pad, layer, k.data(), v.data(), sc.window);
    auto dk = to_device(*gpu, k), dv = to_device(*gpu, v);
    gpu->begin_step(pre.view());
    gpu->kv_store(L, gpu_kv, layer, dk.ptr(), dv.ptr(), sc.window);
    gpu->synchronize();
  }
  // Step 2, the one under test: store the fresh tokens' K/V, then attend.
  HostBatch b = tables.fresh_batch(sc.seqs, /*interleave=*/false);
  const int n = total_fresh;
  const auto k = random_floats(size_t(n) * kv_dim, seed + 3);
  const auto v = random_floats(size_t(n) * kv_dim, seed + 4);
  const auto q = random_floats(size_t(n) * sc.n_heads * hd, seed + 5);
  const float scale = 1.0f / std::sqrt(float(hd));
  std::vector<float> cpu_out(q.size());
  cpu->begin_step(b.view());
  cpu->kv_store(L, cpu_kv.data() + pad, layer, k.data(), v.data(), sc.window);
  cpu->attention(L, cpu_kv.data() + pad, layer, q.data(), cpu_out.data(), sc.n_heads, scale, sc.window);
  auto dk = to_device(*gpu, k), dv = to_device(*gpu, v), dq = to_device(*gpu, q);
  auto dout = to_device(*gpu, std::vector<float>(q.size(), -99.0f));
  gpu->begin_step(b.view());
  gpu->kv_store(L, gpu_kv, layer, dk.ptr(), dv.ptr(), sc.window);
  gpu->attention(L, gpu_kv, layer, dq.ptr(), dout.ptr(), sc.n_heads, scale, sc.window);
  const auto got = to_host(*gpu, dout);
  // The caches must agree byte for byte before the outputs can.
  const auto gpu_cache = to_host(*gpu, gpu_kv_buf);
  REQUIRE(gpu_cache == cpu_kv);

  // Double-precision reference from the cache contents.
  const auto ref =
      reference_attention(L, cpu_kv.data() + pad, layer, b.view(), q.data(), sc.n_heads, scale, sc.window);
  const std::vector<float> want(ref.out.begin(), ref.out.end());
  const double vmax = ref.vmax.empty() ? 0.0 : *std::max_element(ref.vmax.begin(), ref.vmax.end());
  const double tol = 3e-5 * vmax + 1e-6;
  check_close(got, want, tol, "gpu attention vs double reference");
  check_close(got, cpu_out, 2 * tol, "gpu attention vs cpu driver");
}

KvGeometry layout(int n_kv_heads, int head_dim, int block_size, int n_blocks, DType type) {
  return KvGeometry{2, n_blocks, block_size, n_kv_heads, head_dim, type};
}

// A prefill chunk continuing a cached prefix, a decode token, a fresh prompt,
// a short run (3 tokens: decode kernel) and a decode at a block boundary.
const std::vector<Seq> kMixed = {{37, 45}, {100, 1}, {0, 40}, {10, 3}, {31, 1}};

TEST_CASE("attention matches for every GQA ratio and head dim, f16 and f32 caches") {
  uint32_t seed = 100;
  for (DType type : {DType::kF16, DType::kF32}) {
    for (int hd : {8, 64, 128, 256}) {
      for (int group : {1, 2, 4, 8}) {
        if (hd == 256 && group == 8) continue;  // covered at 4; keeps the reference quick
        CAPTURE(dtype_name(type));
        CAPTURE(hd);
        CAPTURE(group);
        const int n_kv = 2;
        run_scenario({layout(n_kv, hd, 16, 64, type), n_kv * group, kMixed, {}}, seed++);
      }
    }
  }
}

TEST_CASE("attention at head dims the vector loads cannot take, group sizes that are not powers of two") {
  uint32_t seed = 200;
  struct Case { int n_kv, hd, group; };
  for (Case c : {Case{2, 20, 3}, Case{1, 40, 6}, Case{3, 12, 1}, Case{2, 100, 2}, Case{1, 200, 5}}) {
    CAPTURE(c.hd);
    CAPTURE(c.group);
    run_scenario({layout(c.n_kv, c.hd, 7, 80, DType::kF16), c.n_kv * c.group, kMixed, {}}, seed++);
  }
}

TEST_CASE("attention reads a cache pointer that is only element-aligned") {
  Scenario sc{layout(2, 64, 16, 64, DType::kF16), 8, kMixed, {}, true};
  run_scenario(sc, 300);
  Scenario sc32{layout(2, 64, 16, 64, DType::kF32), 4, kMixed, {}, true};
  run_scenario(sc32, 301);
}

TEST_CASE("long contexts are split across blocks and reduced") {
  // Default split (512 positions): a 5000-position decode is 10 parts.
  run_scenario({layout(2, 128, 16, 400, DType::kF16), 8, {{4999, 1}, {600, 1}, {37, 45}}, {}}, 400);
  // Short parts: many splits per token, and a mixed batch around them.
  driver::CudaDriverOptions o;
  o.attention_split_len = 32;
  run_scenario({layout(4, 64, 16, 200, DType::kF32), 16, {{1500, 1}, {33, 1}, {31, 1}, {100, 20}}, o}, 401);
  // More positions than max_splits * split_len: parts grow instead.
  run_scenario({layout(1, 64, 32, 1300, DType::kF16), 4, {{40000, 1}}, o}, 402);
}

TEST_CASE("a sliding window in the decode, split-decode and prefill kernels") {
  driver::CudaDriverOptions o;
  o.attention_split_len = 32;  // splits lying wholly outside the window too
  for (int window : {1, 7, 32, 100}) {
    CAPTURE(window);
    Scenario sc{layout(2, 64, 16, 200, DType::kF32), 8, kMixed, {}};
    sc.window = window;
    run_scenario(sc, 600 + uint32_t(window));
    Scenario split{layout(1, 64, 16, 200, DType::kF16), 4, {{1500, 1}, {40, 1}, {100, 20}}, o};
    split.window = window;
    run_scenario(split, 700 + uint32_t(window));
  }
}

TEST_CASE("with prefill_min_run above every run, the decode kernel serves prompt chunks too") {
  driver::CudaDriverOptions o;
  o.prefill_min_run = 1000;
  run_scenario({layout(2, 64, 16, 64, DType::kF16), 8, kMixed, o}, 500);
  o.prefill_min_run = 2;  // and the other way round: every run of 2+ is a prefill tile
  run_scenario({layout(2, 64, 16, 64, DType::kF16), 8, {{5, 2}, {0, 1}, {64, 33}}, o}, 501);
}

}  // namespace
}  // namespace llmos::cuda::testing
