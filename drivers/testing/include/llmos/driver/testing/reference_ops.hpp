// Scalar references for the drivers' tests: the KV cache read through its
// documented layout (driver.hpp, KvGeometry) and causal grouped-query attention
// in double precision over it. Slow and obviously right; test-only; stateless.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "llmos/common/fp16.hpp"
#include "llmos/driver/driver.hpp"

namespace llmos::driver::testing {

// Element `idx` of the K (which = 0) or V (which = 1) row at `slot` of `layer`.
// kv: the start of the cache (host memory; need not be aligned).
inline float cache_value(const KvGeometry& L, const uint8_t* kv, int layer, int which, int64_t slot, int idx) {
  const size_t e = L.plane_offset(layer, which) + size_t(slot) * L.kv_dim() + size_t(idx);
  if (L.type == DType::kF32) {
    float f;
    std::memcpy(&f, kv + e * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, kv + e * 2, 2);
  return f16_to_f32(h);
}

// Driver::attention of batch `b` in double precision, and beside each output
// element the largest |v| it read (to scale a tolerance).
struct ReferenceAttention {
  std::vector<double> out;   // [n_tokens][n_heads][head_dim]
  std::vector<double> vmax;  // [n_tokens][n_heads][head_dim]
};
inline ReferenceAttention reference_attention(const KvGeometry& L, const uint8_t* kv, int layer, const StepBatch& b,
                                              const float* q, int n_heads, float scale) {
  const int hd = L.head_dim, group = n_heads / L.n_kv_heads;
  auto slot_of = [&](int s, int p) {
    return int64_t(b.block_tables[int64_t(s) * b.max_blocks + p / L.block_size]) * L.block_size + p % L.block_size;
  };
  ReferenceAttention r;
  r.out.assign(size_t(b.n_tokens) * n_heads * hd, 0.0);
  r.vmax.assign(r.out.size(), 0.0);
  for (int t = 0; t < b.n_tokens; ++t) {
    const int s = b.seq_index[t], pos = b.positions[t];
    for (int h = 0; h < n_heads; ++h) {
      const int kvh = h / group;
      const float* qh = q + (size_t(t) * n_heads + h) * hd;
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
        double o = 0, vmax = 0;
        for (int p = 0; p <= pos; ++p) {
          const double vv = cache_value(L, kv, layer, 1, slot_of(s, p), kvh * hd + i);
          o += w[size_t(p)] / sum * vv;
          vmax = std::max(vmax, std::fabs(vv));
        }
        const size_t e = (size_t(t) * n_heads + h) * hd + size_t(i);
        r.out[e] = o;
        r.vmax[e] = vmax;
      }
    }
  }
  return r;
}

}  // namespace llmos::driver::testing
