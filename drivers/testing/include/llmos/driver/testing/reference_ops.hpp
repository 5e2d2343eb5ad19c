// Scalar references for the drivers' tests: the KV cache read through its
// documented layout (driver.hpp, KvGeometry), causal grouped-query attention
// (optionally windowed) in double precision over it, RoPE in both pair orders,
// and a mixture of experts' routing and FFN. Slow and obviously right;
// test-only; stateless.
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
                                              const float* q, int n_heads, float scale, int window = 0) {
  const int hd = L.head_dim, group = n_heads / L.n_kv_heads;
  auto slot_of = [&](int s, int p) {
    return int64_t(b.block_tables[int64_t(s) * b.max_blocks + p / L.block_size]) * L.block_size + p % L.block_size;
  };
  ReferenceAttention r;
  r.out.assign(size_t(b.n_tokens) * n_heads * hd, 0.0);
  r.vmax.assign(r.out.size(), 0.0);
  for (int t = 0; t < b.n_tokens; ++t) {
    const int s = b.seq_index[t], pos = b.positions[t];
    const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
    for (int h = 0; h < n_heads; ++h) {
      const int kvh = h / group;
      const float* qh = q + (size_t(t) * n_heads + h) * hd;
      std::vector<double> w(size_t(pos + 1), -1e300);
      double mx = -1e300;
      for (int p = first; p <= pos; ++p) {
        double d = 0;
        for (int i = 0; i < hd; ++i) d += double(qh[i]) * cache_value(L, kv, layer, 0, slot_of(s, p), kvh * hd + i);
        w[size_t(p)] = d * scale;
        mx = std::max(mx, w[size_t(p)]);
      }
      double sum = 0;
      for (auto& x : w) sum += (x = x <= -1e299 ? 0.0 : std::exp(x - mx));
      for (int i = 0; i < hd; ++i) {
        double o = 0, vmax = 0;
        for (int p = first; p <= pos; ++p) {
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

// Driver::rope in double: x [n][n_heads][head_dim] rotated in place.
inline void reference_rope(std::vector<double>& x, const std::vector<int32_t>& positions, int n_heads, int head_dim,
                           int rope_dim, double base, bool neox, const float* factors, double freq_scale = 1.0) {
  const int half = rope_dim / 2;
  for (size_t t = 0; t < positions.size(); ++t)
    for (int h = 0; h < n_heads; ++h) {
      double* v = x.data() + (t * size_t(n_heads) + size_t(h)) * size_t(head_dim);
      for (int i = 0; i < half; ++i) {
        double theta = positions[t] * std::pow(base, -2.0 * i / rope_dim);
        if (factors != nullptr) theta /= factors[i];
        theta *= freq_scale;
        const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const double x0 = v[a], x1 = v[b];
        v[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
        v[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
      }
    }
}

// Driver::moe_route and moe_ffn in double for f32 expert tensors laid out as
// ExpertWeights says: y [n][dim].
inline std::vector<double> reference_moe(const std::vector<float>& x, const std::vector<float>& router, int n,
                                         int dim, int n_experts, int k, int ffn, const std::vector<float>& gate,
                                         const std::vector<float>& up, const std::vector<float>& down) {
  std::vector<double> y(size_t(n) * dim, 0.0);
  for (int t = 0; t < n; ++t) {
    const float* xt = x.data() + size_t(t) * dim;
    std::vector<double> logit(static_cast<size_t>(n_experts));
    for (int e = 0; e < n_experts; ++e) {
      double s = 0;
      for (int c = 0; c < dim; ++c) s += double(router[size_t(e) * dim + c]) * xt[c];
      logit[size_t(e)] = s;
    }
    std::vector<int> order(static_cast<size_t>(n_experts));
    for (int e = 0; e < n_experts; ++e) order[size_t(e)] = e;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logit[size_t(a)] > logit[size_t(b)]; });
    double mx = logit[size_t(order[0])], sum = 0, picked = 0;
    for (double l : logit) sum += std::exp(l - mx);
    for (int j = 0; j < k; ++j) picked += std::exp(logit[size_t(order[size_t(j)])] - mx) / sum;
    for (int j = 0; j < k; ++j) {
      const int e = order[size_t(j)];
      const double w = std::exp(logit[size_t(e)] - mx) / sum / picked;
      std::vector<double> hmid(static_cast<size_t>(ffn));
      for (int r = 0; r < ffn; ++r) {
        double g = 0, u = 0;
        for (int c = 0; c < dim; ++c) {
          g += double(gate[(size_t(e) * ffn + r) * dim + c]) * xt[c];
          u += double(up[(size_t(e) * ffn + r) * dim + c]) * xt[c];
        }
        hmid[size_t(r)] = g / (1.0 + std::exp(-g)) * u;
      }
      for (int c = 0; c < dim; ++c) {
        double o = 0;
        for (int r = 0; r < ffn; ++r) o += double(down[(size_t(e) * dim + c) * ffn + r]) * hmid[size_t(r)];
        y[size_t(t) * dim + c] += w * o;
      }
    }
  }
  return y;
}

}  // namespace llmos::driver::testing
