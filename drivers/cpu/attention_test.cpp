// kv_store and attention at every ISA level: a mixed batch (a prefill chunk
// continuing a cached prefix, a decode token, a fresh prefill) over shuffled,
// non-contiguous blocks, against a double-precision reference that reads the
// cache through its documented layout; a sliding window also through the
// batch's window tables (unmapped before the window), and in a window layer's
// own, shorter planes. Tolerance: 2e-5 * max|v| + 1e-6 (the
// kernels' exp is a polynomial with ~1e-7 relative error; the rest is f32 order).
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu_test_util.hpp"
#include "llmos/common/fp16.hpp"
#include "llmos/driver/testing/paged_batch.hpp"
#include "llmos/driver/testing/reference_ops.hpp"

namespace llmos::cpu {
namespace {

using driver::testing::cache_value;
using driver::testing::HostBatch;
using driver::testing::reference_attention;
using driver::testing::shuffled_tables;
using Seq = driver::testing::SeqSpan;
using testing::available_levels;
using testing::driver_at;
using testing::random_floats;

struct Scenario {
  KvGeometry L;
  int n_heads;
  std::vector<Seq> seqs;
};

// With `window_tables`, the real slots and tables go in the batch's window
// arrays (the window tables -1 before each sequence's window) and the main ones
// all point at slot 0: a sliding layer must read and write only the former.
void run_scenario(IsaLevel level, const Scenario& sc, uint32_t seed, int window = 0, bool window_tables = false) {
  const KvGeometry& L = sc.L;
  const int hd = L.head_dim, kv_dim = L.kv_dim();
  const int layer = 1;
  // Shuffled physical blocks: sequence s's logical block i -> a random distinct
  // block of the layer's planes (n_window_blocks of them for a window layer).
  const auto tables = shuffled_tables(sc.seqs, L.layer_blocks(layer), L.block_size, seed);

  auto drv = driver_at(level, 2);
  std::vector<uint8_t> kv(L.bytes(), 0);

  // Step 1: the cached prefixes, stored by kv_store.
  const HostBatch pre = tables.prefix_batch(sc.seqs);
  const auto pk = random_floats(pre.pos.size() * size_t(kv_dim), seed + 1);
  const auto pv = random_floats(pre.pos.size() * size_t(kv_dim), seed + 2);
  auto step_view = [&](const HostBatch& hb, std::vector<int32_t>& zeros, std::vector<int32_t>& wtables) {
    driver::StepBatch v = hb.view();
    if (!window_tables) return v;
    zeros.assign(std::max(hb.slots.size(), hb.tables.size()), 0);
    wtables = hb.tables;
    std::vector<int32_t> first(size_t(hb.n_seqs), INT32_MAX);  // each sequence's first position in the step
    for (size_t t = 0; t < hb.pos.size(); ++t) first[size_t(hb.seq[t])] = std::min(first[size_t(hb.seq[t])], hb.pos[t]);
    for (int s = 0; s < hb.n_seqs; ++s) {
      const int lo = first[size_t(s)] == INT32_MAX ? 0 : std::max(0, first[size_t(s)] - window + 1);
      for (int i = 0; i < lo / L.block_size; ++i) wtables[size_t(s * hb.max_blocks + i)] = -1;
    }
    v.window_kv_slots = v.kv_slots;
    v.window_block_tables = wtables.data();
    v.kv_slots = zeros.data();
    v.block_tables = zeros.data();
    return v;
  };
  std::vector<int32_t> zeros, wtables;
  drv->begin_step(step_view(pre, zeros, wtables));
  drv->kv_store(L, kv.data(), layer, pk.data(), pv.data(), window);

  // Step 2: the fresh tokens of all sequences, interleaved round-robin.
  const HostBatch b = tables.fresh_batch(sc.seqs, /*interleave=*/true);
  const int n = int(b.pos.size());
  const auto k = random_floats(size_t(n * kv_dim), seed + 3);
  const auto v = random_floats(size_t(n * kv_dim), seed + 4);
  const auto q = random_floats(size_t(n * sc.n_heads * hd), seed + 5);
  std::vector<float> out(q.size(), NAN);
  const float scale = 1.0f / std::sqrt(float(hd));
  drv->begin_step(step_view(b, zeros, wtables));
  drv->kv_store(L, kv.data(), layer, k.data(), v.data(), window);
  drv->attention(L, kv.data(), layer, q.data(), out.data(), sc.n_heads, scale, window);

  // kv_store wrote exactly the rounded values, at the right slots, in the right layer.
  int bad_store = 0;
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < kv_dim; ++i) {
      const float src_k = k[size_t(t * kv_dim + i)], src_v = v[size_t(t * kv_dim + i)];
      const float want_k = L.type == DType::kF32 ? src_k : f16_to_f32(f32_to_f16(src_k));
      const float want_v = L.type == DType::kF32 ? src_v : f16_to_f32(f32_to_f16(src_v));
      bad_store += cache_value(L, kv.data(), layer, 0, b.slots[size_t(t)], i) != want_k;
      bad_store += cache_value(L, kv.data(), layer, 1, b.slots[size_t(t)], i) != want_v;
      bad_store += cache_value(L, kv.data(), 0, 0, b.slots[size_t(t)], i) != 0.0f;  // layer 0 untouched
    }
  CHECK(bad_store == 0);

  // Attention against the reference.
  const auto ref = reference_attention(L, kv.data(), layer, b.view(), q.data(), sc.n_heads, scale, window);
  int bad = 0;
  for (size_t e = 0; e < out.size(); ++e) {
    const double got = out[e];
    if (!(std::fabs(got - ref.out[e]) <= 2e-5 * ref.vmax[e] + 1e-6)) {
      const size_t t = e / (size_t(sc.n_heads) * hd), h = e / size_t(hd) % size_t(sc.n_heads), i = e % size_t(hd);
      if (bad++ == 0) MESSAGE("token " << t << " head " << h << " dim " << i << ": got " << got << " want " << ref.out[e]);
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("attention matches the reference: GQA, shuffled blocks, mixed prefill and decode") {
  struct Heads { int n_heads, n_kv_heads; };
  for (IsaLevel level : available_levels()) {
    for (DType type : {DType::kF16, DType::kF32}) {
      for (Heads hs : {Heads{4, 4}, Heads{4, 2}, Heads{8, 2}}) {
        for (int hd : {8, 40, 64}) {
          for (int bs : {4, 16}) {
            Scenario sc;
            sc.L.n_layers = 2;
            sc.L.block_size = bs;
            sc.L.n_kv_heads = hs.n_kv_heads;
            sc.L.head_dim = hd;
            sc.L.type = type;
            sc.n_heads = hs.n_heads;
            // continuing prefill across block and chunk boundaries, a decode token, a fresh prefill
            sc.seqs = {{37, 9}, {70, 1}, {0, 6}};
            int blocks = 0;
            for (const Seq& s : sc.seqs) blocks += (s.cached + s.fresh + bs - 1) / bs;
            sc.L.n_blocks = blocks + 3;
            INFO(isa_level_name(level) << " " << dtype_name(type) << " heads " << hs.n_heads << "/" << hs.n_kv_heads
                                       << " head_dim " << hd << " block " << bs);
            run_scenario(level, sc, uint32_t(hd * 7 + bs + hs.n_heads));
          }
        }
      }
    }
  }
}

TEST_CASE("attention of one decode token over one KV head splits across threads") {
  // n_kv_heads = 1 (multi-query): the driver splits the group so both threads work.
  for (IsaLevel level : available_levels()) {
    Scenario sc;
    sc.L = KvGeometry{1 + 1, 40, 16, 1, 64, DType::kF16};
    sc.n_heads = 8;
    sc.seqs = {{300, 1}};
    INFO(isa_level_name(level));
    run_scenario(level, sc, 99);
  }
}

TEST_CASE("attention over prefills longer than one query tile") {
  for (IsaLevel level : available_levels()) {
    for (DType type : {DType::kF16, DType::kF32}) {
      Scenario sc;
      sc.L = KvGeometry{2, 40, 16, 2, 40, type};  // head_dim 40: partial vectors
      sc.n_heads = 6;
      sc.seqs = {{5, 40}, {0, 33}, {100, 2}};
      INFO(isa_level_name(level) << " " << dtype_name(type));
      run_scenario(level, sc, 7);
    }
  }
}

TEST_CASE("a sliding window: each query sees only its last `window` positions, prefill and decode") {
  for (IsaLevel level : available_levels()) {
    for (int window : {1, 5, 16, 33}) {
      Scenario sc;
      sc.L = KvGeometry{2, 40, 16, 2, 40, DType::kF32};
      sc.n_heads = 4;
      sc.seqs = {{37, 9}, {70, 1}, {0, 20}};
      INFO(isa_level_name(level) << " window " << window);
      run_scenario(level, sc, 11, window);
    }
  }
}

TEST_CASE("a sliding window through the batch's window tables, unmapped before the window") {
  for (IsaLevel level : available_levels()) {
    for (int window : {1, 5, 16, 33}) {
      for (DType type : {DType::kF16, DType::kF32}) {
        Scenario sc;
        sc.L = KvGeometry{2, 40, 16, 2, 40, type};
        sc.n_heads = 4;
        sc.seqs = {{37, 9}, {70, 1}, {0, 20}};
        INFO(isa_level_name(level) << " window " << window << " " << dtype_name(type));
        run_scenario(level, sc, 13, window, /*window_tables=*/true);
      }
    }
  }
}

TEST_CASE("a window layer's planes hold n_window_blocks blocks, addressed through the window tables") {
  for (IsaLevel level : available_levels()) {
    for (DType type : {DType::kF16, DType::kF32}) {
      Scenario sc;
      sc.L = KvGeometry{3, 40, 16, 2, 40, type};
      sc.L.n_window_blocks = 12;  // the three sequences' 10 blocks and two more
      sc.L.set_window_layer(1);   // the layer run_scenario runs, between two others
      sc.n_heads = 4;
      sc.seqs = {{37, 9}, {70, 1}, {0, 20}};
      INFO(isa_level_name(level) << " " << dtype_name(type));
      run_scenario(level, sc, 17, 33, /*window_tables=*/true);
    }
  }
}

}  // namespace
}  // namespace llmos::cpu
