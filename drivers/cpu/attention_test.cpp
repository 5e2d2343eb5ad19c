// kv_store and attention at every ISA level: a mixed batch (a prefill chunk
// continuing a cached prefix, a decode token, a fresh prefill) over shuffled,
// non-contiguous blocks, against a double-precision reference that reads the
// cache through its documented layout. Tolerance: 2e-5 * max|v| + 1e-6 (the
// kernels' exp is a polynomial with ~1e-7 relative error; the rest is f32 order).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "cpu_test_util.hpp"
#include "llmos/common/fp16.hpp"

namespace llmos::cpu {
namespace {

using driver::KvLayout;
using driver::StepBatch;
using testing::available_levels;
using testing::driver_at;
using testing::random_floats;

struct Seq {
  int cached;  // positions already in the cache before the tested step
  int fresh;   // tokens of this sequence in the tested step
};

struct Scenario {
  KvLayout L;
  int n_heads;
  std::vector<Seq> seqs;
};

// Host arrays behind a StepBatch.
struct Batch {
  std::vector<int32_t> ids, pos, seq, slots, tables, out_rows;
  int n_seqs = 0, max_blocks = 0;
  StepBatch view() const {
    StepBatch b;
    b.n_tokens = int(pos.size());
    b.token_ids = ids.data();
    b.positions = pos.data();
    b.seq_index = seq.data();
    b.kv_slots = slots.data();
    b.n_seqs = n_seqs;
    b.max_blocks = max_blocks;
    b.block_tables = tables.data();
    b.n_outputs = int(out_rows.size());
    b.output_rows = out_rows.data();
    return b;
  }
};

float cache_value(const KvLayout& L, const std::vector<uint8_t>& kv, int layer, int which, int64_t slot,
                  int idx) {
  const size_t e = L.plane_offset(layer, which) + size_t(slot) * L.kv_dim() + size_t(idx);
  if (L.type == DType::kF32) return reinterpret_cast<const float*>(kv.data())[e];
  return f16_to_f32(reinterpret_cast<const uint16_t*>(kv.data())[e]);
}

void run_scenario(IsaLevel level, const Scenario& sc, uint32_t seed) {
  const KvLayout& L = sc.L;
  const int hd = L.head_dim, kv_dim = L.kv_dim(), bs = L.block_size;
  const int n_seqs = int(sc.seqs.size());
  int max_len = 0;
  for (const Seq& s : sc.seqs) max_len = std::max(max_len, s.cached + s.fresh);
  const int max_blocks = (max_len + bs - 1) / bs + 1;  // one spare column stays -1

  // Shuffled physical blocks: sequence s's logical block i -> a random distinct block.
  std::vector<int32_t> phys(size_t(L.n_blocks));
  std::iota(phys.begin(), phys.end(), 0);
  std::shuffle(phys.begin(), phys.end(), std::mt19937(seed));
  std::vector<int32_t> tables(size_t(n_seqs * max_blocks), -1);
  size_t next = 0;
  for (int s = 0; s < n_seqs; ++s) {
    const int len = sc.seqs[size_t(s)].cached + sc.seqs[size_t(s)].fresh;
    for (int i = 0; i < (len + bs - 1) / bs; ++i) tables[size_t(s * max_blocks + i)] = phys.at(next++);
  }
  auto slot_of = [&](int s, int p) { return int64_t(tables[size_t(s * max_blocks + p / bs)]) * bs + p % bs; };

  auto drv = driver_at(level, 2);
  std::vector<uint8_t> kv(L.bytes(), 0);
  const int layer = 1;

  // Step 1: the cached prefixes, stored by kv_store.
  Batch pre;
  pre.n_seqs = n_seqs;
  pre.max_blocks = max_blocks;
  pre.tables = tables;
  for (int s = 0; s < n_seqs; ++s)
    for (int p = 0; p < sc.seqs[size_t(s)].cached; ++p) {
      pre.ids.push_back(0);
      pre.pos.push_back(p);
      pre.seq.push_back(s);
      pre.slots.push_back(int32_t(slot_of(s, p)));
    }
  const auto pk = random_floats(pre.pos.size() * size_t(kv_dim), seed + 1);
  const auto pv = random_floats(pre.pos.size() * size_t(kv_dim), seed + 2);
  drv->begin_step(pre.view());
  drv->kv_store(L, kv.data(), layer, pk.data(), pv.data());

  // Step 2: the fresh tokens of all sequences, interleaved round-robin.
  Batch b;
  b.n_seqs = n_seqs;
  b.max_blocks = max_blocks;
  b.tables = tables;
  for (int round = 0;; ++round) {
    bool any = false;
    for (int s = 0; s < n_seqs; ++s) {
      if (round >= sc.seqs[size_t(s)].fresh) continue;
      any = true;
      const int p = sc.seqs[size_t(s)].cached + round;
      b.ids.push_back(0);
      b.pos.push_back(p);
      b.seq.push_back(s);
      b.slots.push_back(int32_t(slot_of(s, p)));
    }
    if (!any) break;
  }
  const int n = int(b.pos.size());
  const auto k = random_floats(size_t(n * kv_dim), seed + 3);
  const auto v = random_floats(size_t(n * kv_dim), seed + 4);
  const auto q = random_floats(size_t(n * sc.n_heads * hd), seed + 5);
  std::vector<float> out(q.size(), NAN);
  const float scale = 1.0f / std::sqrt(float(hd));
  drv->begin_step(b.view());
  drv->kv_store(L, kv.data(), layer, k.data(), v.data());
  drv->attention(L, kv.data(), layer, q.data(), out.data(), sc.n_heads, scale);

  // kv_store wrote exactly the rounded values, at the right slots, in the right layer.
  int bad_store = 0;
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < kv_dim; ++i) {
      const float src_k = k[size_t(t * kv_dim + i)], src_v = v[size_t(t * kv_dim + i)];
      const float want_k = L.type == DType::kF32 ? src_k : f16_to_f32(f32_to_f16(src_k));
      const float want_v = L.type == DType::kF32 ? src_v : f16_to_f32(f32_to_f16(src_v));
      bad_store += cache_value(L, kv, layer, 0, b.slots[size_t(t)], i) != want_k;
      bad_store += cache_value(L, kv, layer, 1, b.slots[size_t(t)], i) != want_v;
      bad_store += cache_value(L, kv, 0, 0, b.slots[size_t(t)], i) != 0.0f;  // layer 0 untouched
    }
  CHECK(bad_store == 0);

  // Attention against the reference.
  const int group = sc.n_heads / L.n_kv_heads;
  int bad = 0;
  for (int t = 0; t < n; ++t) {
    const int s = b.seq[size_t(t)], pos = b.pos[size_t(t)];
    for (int h = 0; h < sc.n_heads; ++h) {
      const int kvh = h / group;
      const float* qh = q.data() + (size_t(t) * sc.n_heads + h) * hd;
      std::vector<double> w(size_t(pos + 1));
      double mx = -1e300;
      for (int p = 0; p <= pos; ++p) {
        double d = 0;
        for (int i = 0; i < hd; ++i) d += double(qh[i]) * cache_value(L, kv, layer, 0, slot_of(s, p), kvh * hd + i);
        w[size_t(p)] = d * scale;
        mx = std::max(mx, w[size_t(p)]);
      }
      double sum = 0;
      for (auto& x : w) sum += (x = std::exp(x - mx));
      for (int i = 0; i < hd; ++i) {
        double ref = 0, vmax = 0;
        for (int p = 0; p <= pos; ++p) {
          const double vv = cache_value(L, kv, layer, 1, slot_of(s, p), kvh * hd + i);
          ref += w[size_t(p)] / sum * vv;
          vmax = std::max(vmax, std::fabs(vv));
        }
        const double got = out[(size_t(t) * sc.n_heads + h) * hd + size_t(i)];
        if (!(std::fabs(got - ref) <= 2e-5 * vmax + 1e-6)) {
          if (bad++ == 0) MESSAGE("token " << t << " head " << h << " dim " << i << ": got " << got << " want " << ref);
        }
      }
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
    sc.L = KvLayout{1 + 1, 40, 16, 1, 64, DType::kF16};
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
      sc.L = KvLayout{2, 40, 16, 2, 40, type};  // head_dim 40: partial vectors
      sc.n_heads = 6;
      sc.seqs = {{5, 40}, {0, 33}, {100, 2}};
      INFO(isa_level_name(level) << " " << dtype_name(type));
      run_scenario(level, sc, 7);
    }
  }
}

}  // namespace
}  // namespace llmos::cpu
