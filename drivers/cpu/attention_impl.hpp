// Paged attention over the KV cache, written once against the vector trait V of
// float_kernels_impl.hpp: a single-query kernel (online softmax over chunks,
// one horizontal reduction per kWidth positions) and a tile kernel for several
// query-heads of one sequence (K chunks transposed once, scores and weighted
// sums as small matrix products). Internal linkage, like float_kernels_impl.hpp;
// include only from a kernels_*.cpp, after defining V.
#pragma once
#include <cmath>
#include <cstdint>

#include "float_kernels_impl.hpp"
#include "kernels.hpp"

namespace llmos::cpu {
namespace {

// Walks positions p0, p0 + 1, ... through a block table, yielding each one's
// byte offset in a K or V plane (one division to start, none per position).
class SlotCursor {
 public:
  SlotCursor(const int32_t* table, int block_size, size_t slot_bytes, int p0)
      : table_(table), block_size_(block_size), slot_bytes_(slot_bytes), block_(p0 / block_size),
        offset_(p0 % block_size) {}
  size_t next() {
    const size_t off = (size_t(table_[block_]) * size_t(block_size_) + size_t(offset_)) * slot_bytes_;
    if (++offset_ == block_size_) {
      offset_ = 0;
      ++block_;
    }
    return off;
  }

 private:
  const int32_t* table_;
  int block_size_;
  size_t slot_bytes_;
  int block_;
  int offset_;
};

// Partial dot products of q with the W rows k[0..W): part[j] holds q . k[j] in
// vector form (lanes still to be added). Slices outermost, so each q slice is
// loaded once and feeds W independent FMA chains.
template <class V, Elem E>
inline void dot_rows(const float* q, const uint8_t* const* k, int n, typename V::F* part) {
  constexpr int W = V::kWidth;
#pragma GCC unroll 16
  for (int j = 0; j < W; ++j) part[j] = V::zero();
  int i = 0;
  for (; i + W <= n; i += W) {
    const typename V::F qv = V::load(q + i);
#pragma GCC unroll 16
    for (int j = 0; j < W; ++j) part[j] = V::fma(qv, load_elems<V, E>(k[j], i), part[j]);
  }
  if (i < n) {
    const typename V::F qv = V::load_part(q + i, n - i);
#pragma GCC unroll 16
    for (int j = 0; j < W; ++j) part[j] = V::fma(qv, load_elems_part<V, E>(k[j], i, n - i), part[j]);
  }
}

// Online softmax over chunks of positions. Per chunk and head: the scores of
// kWidth positions at a time (one horizontal reduction for all of them), one
// rescale of the running max and sum, and the weighted V rows summed in
// registers before touching the accumulator.
template <class V, Elem E>
void attention_typed(const AttentionArgs& a, int token, int head0, int nh, float* scratch) {
  using F = typename V::F;
  constexpr int C = kAttentionChunk;
  constexpr int W = V::kWidth;
  static_assert(C % W == 0);
  const int hd = a.head_dim;
  const int pos = a.positions[token];
  const int32_t* table = a.block_tables + int64_t(a.seq_index[token]) * a.max_blocks;
  const int kv_head = head0 / a.group;
  const size_t elem = E == Elem::kF32 ? 4 : 2;
  const auto* kbase = static_cast<const uint8_t*>(a.k_cache) + size_t(kv_head) * hd * elem;
  const auto* vbase = static_cast<const uint8_t*>(a.v_cache) + size_t(kv_head) * hd * elem;
  const size_t slot_bytes = size_t(a.kv_dim) * elem;

  float* acc = scratch;                   // [nh][hd]
  float* scores = acc + size_t(nh) * hd;  // [nh][C]
  float* run_max = scores + size_t(nh) * C;
  float* run_sum = run_max + nh;
  for (int i = 0; i < nh * hd; ++i) acc[i] = 0.0f;
  for (int h = 0; h < nh; ++h) {
    run_max[h] = -INFINITY;
    run_sum[h] = 0.0f;
  }
  const float* q0 = a.q + (size_t(token) * a.n_heads + head0) * hd;
  const F scale = V::set1(a.scale);

  const uint8_t* krow[C];
  const uint8_t* vrow[C];
  const int first = a.window > 0 && pos >= a.window ? pos - a.window + 1 : 0;  // sliding window
  SlotCursor rows(table, a.block_size, slot_bytes, first);
  for (int p0 = first; p0 <= pos; p0 += C) {
    const int c = pos + 1 - p0 < C ? pos + 1 - p0 : C;
    for (int j = 0; j < c; ++j) {
      const size_t off = rows.next();
      krow[j] = kbase + off;
      vrow[j] = vbase + off;
    }
    for (int j = c; j < (c + W - 1) / W * W; ++j) krow[j] = krow[0];  // scored, then masked
    for (int h = 0; h < nh; ++h) {
      const float* qh = q0 + size_t(h) * hd;
      float* s = scores + size_t(h) * C;
      F mv = V::set1(-INFINITY);
      for (int g0 = 0; g0 < c; g0 += W) {
        const int gc = c - g0 < W ? c - g0 : W;
        F part[W];
        dot_rows<V, E>(qh, krow + g0, hd, part);
        F sv = V::mul(V::reduce_many(part), scale);
        if (gc < W) sv = V::blend_part(sv, V::set1(-INFINITY), gc);  // lanes past the end: -inf
        V::store(s + g0, sv);
        mv = V::max(mv, sv);
      }
      const float cmax = V::reduce_max(mv);
      const float new_max = cmax > run_max[h] ? cmax : run_max[h];
      const F nm = V::set1(new_max);
      F sum = V::zero();
      for (int g0 = 0; g0 < c; g0 += W) {
        const F e = V::exp(V::sub(V::load(s + g0), nm));  // -inf lanes: exp clamps to ~1e-38,
        const int gc = c - g0 < W ? c - g0 : W;             // so zero them explicitly
        const F ez = gc < W ? V::blend_part(e, V::zero(), gc) : e;
        V::store(s + g0, ez);
        sum = V::add(sum, ez);
      }
      const float corr = ::expf(run_max[h] - new_max);  // 0 on the first chunk
      run_sum[h] = run_sum[h] * corr + V::reduce_add(sum);
      run_max[h] = new_max;
      // acc = acc * corr + sum_j p_j v_j, a vector slice at a time (two FMA chains)
      float* ah = acc + size_t(h) * hd;
      const F cv = V::set1(corr);
      int i = 0;
      for (; i + W <= hd; i += W) {
        F o0 = V::zero(), o1 = V::zero();
        int j = 0;
        for (; j + 2 <= c; j += 2) {
          o0 = V::fma(V::set1(s[j]), load_elems<V, E>(vrow[j], i), o0);
          o1 = V::fma(V::set1(s[j + 1]), load_elems<V, E>(vrow[j + 1], i), o1);
        }
        if (j < c) o0 = V::fma(V::set1(s[j]), load_elems<V, E>(vrow[j], i), o0);
        V::store(ah + i, V::fma(V::load(ah + i), cv, V::add(o0, o1)));
      }
      if (i < hd) {
        const int rem = hd - i;
        F o = V::zero();
        for (int j = 0; j < c; ++j) o = V::fma(V::set1(s[j]), load_elems_part<V, E>(vrow[j], i, rem), o);
        V::store_part(ah + i, V::fma(V::load_part(ah + i, rem), cv, o), rem);
      }
    }
  }
  float* out0 = a.out + (size_t(token) * a.n_heads + head0) * hd;
  for (int h = 0; h < nh; ++h) {
    const float inv = 1.0f / run_sum[h];
    const float* src = acc + size_t(h) * hd;
    float* dst = out0 + size_t(h) * hd;
    for (int i = 0; i < hd; ++i) dst[i] = src[i] * inv;
  }
}

// Scores of G query rows against a transposed K chunk kt [hd][W]: s[i] lane j
// = q_i . k_j. Each kt row is loaded once for G independent FMA chains.
template <class V, int G>
inline void qk_group(const float* const* q, const float* kt, int hd, typename V::F* s) {
  using F = typename V::F;
  F acc[G];
#pragma GCC unroll 8
  for (int i = 0; i < G; ++i) acc[i] = V::zero();
  for (int d = 0; d < hd; ++d) {
    const F kd = V::load(kt + size_t(d) * V::kWidth);
#pragma GCC unroll 8
    for (int i = 0; i < G; ++i) acc[i] = V::fma(V::set1(q[i][d]), kd, acc[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < G; ++i) s[i] = acc[i];
}

// acc_i += sum_{j < n} p_i[j] * v_j for G rows, v_j = vc [W][hdp] rows, a
// vector slice at a time: each V slice is loaded once for G FMA chains.
template <class V, int G>
inline void pv_group(float* const* acc, const float* const* p, int n, const float* vc, int hdp) {
  using F = typename V::F;
  for (int d0 = 0; d0 < hdp; d0 += V::kWidth) {
    F o[G];
#pragma GCC unroll 8
    for (int i = 0; i < G; ++i) o[i] = V::load(acc[i] + d0);
    for (int j = 0; j < n; ++j) {
      const F vj = V::load(vc + size_t(j) * hdp + d0);
#pragma GCC unroll 8
      for (int i = 0; i < G; ++i) o[i] = V::fma(V::set1(p[i][j]), vj, o[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < G; ++i) V::store(acc[i] + d0, o[i]);
  }
}

template <class V>
inline void qk_group_n(int g, const float* const* q, const float* kt, int hd, typename V::F* s) {
  switch (g) {
    case 8: qk_group<V, 8>(q, kt, hd, s); return;
    case 7: qk_group<V, 7>(q, kt, hd, s); return;
    case 6: qk_group<V, 6>(q, kt, hd, s); return;
    case 5: qk_group<V, 5>(q, kt, hd, s); return;
    case 4: qk_group<V, 4>(q, kt, hd, s); return;
    case 3: qk_group<V, 3>(q, kt, hd, s); return;
    case 2: qk_group<V, 2>(q, kt, hd, s); return;
    default: qk_group<V, 1>(q, kt, hd, s); return;
  }
}

template <class V>
inline void pv_group_n(int g, float* const* acc, const float* const* p, int n, const float* vc, int hdp) {
  switch (g) {
    case 8: pv_group<V, 8>(acc, p, n, vc, hdp); return;
    case 7: pv_group<V, 7>(acc, p, n, vc, hdp); return;
    case 6: pv_group<V, 6>(acc, p, n, vc, hdp); return;
    case 5: pv_group<V, 5>(acc, p, n, vc, hdp); return;
    case 4: pv_group<V, 4>(acc, p, n, vc, hdp); return;
    case 3: pv_group<V, 3>(acc, p, n, vc, hdp); return;
    case 2: pv_group<V, 2>(acc, p, n, vc, hdp); return;
    default: pv_group<V, 1>(acc, p, n, vc, hdp); return;
  }
}

// Queries of one sequence x heads of one KV group, flash-attention style, over
// the flattened (query, head) rows. Each chunk of kWidth positions has its K
// rows converted once and transposed to [head_dim][kWidth] and its V rows
// converted once; scores and weighted sums then run as small matrix products
// over groups of 8 rows (no horizontal sums, each K/V load feeding 8 FMA
// chains). Causality is a per-query mask; the running max only rescales the
// sums when it grows.
template <class V, Elem E>
void attention_tile(const AttentionArgs& a, const int32_t* tokens, int nq, int head0, int nh, float* scratch) {
  using F = typename V::F;
  constexpr int W = V::kWidth;
  constexpr int kGroup = 8;
  const int hd = a.head_dim;
  const int hdp = (hd + W - 1) / W * W;  // padded to whole vectors
  const int nr = nq * nh;                // rows: query q, head h -> q * nh + h
  const int32_t* table = a.block_tables + int64_t(a.seq_index[tokens[0]]) * a.max_blocks;
  const int kv_head = head0 / a.group;
  const size_t elem = E == Elem::kF32 ? 4 : 2;
  const auto* kbase = static_cast<const uint8_t*>(a.k_cache) + size_t(kv_head) * hd * elem;
  const auto* vbase = static_cast<const uint8_t*>(a.v_cache) + size_t(kv_head) * hd * elem;
  const size_t slot_bytes = size_t(a.kv_dim) * elem;

  float* kt = scratch;                       // [hdp][W]  K chunk, transposed
  float* vc = kt + size_t(hdp) * W;          // [W][hdp]  V chunk
  float* acc = vc + size_t(W) * hdp;         // [nr][hdp]
  float* run_sum = acc + size_t(nr) * hdp;   // [nr][W]   per lane, added up at the end
  float* probs = run_sum + size_t(nr) * W;   // [nr][W]   scores, then weights
  float* run_max = probs + size_t(nr) * W;   // [nr]
  for (size_t i = 0; i < size_t(nr) * (hdp + W); ++i) acc[i] = 0.0f;  // acc and run_sum
  int max_pos = 0;
  for (int q = 0; q < nq; ++q) max_pos = a.positions[tokens[q]] > max_pos ? a.positions[tokens[q]] : max_pos;
  for (int r = 0; r < nr; ++r) run_max[r] = -INFINITY;
  const F scale = V::set1(a.scale);
  const F neg_inf = V::set1(-INFINITY);

  SlotCursor rows(table, a.block_size, slot_bytes, 0);
  for (int p0 = 0; p0 <= max_pos; p0 += W) {
    const int c = max_pos + 1 - p0 < W ? max_pos + 1 - p0 : W;
    const uint8_t* krow[W];
    const uint8_t* vrow[W];
    for (int j = 0; j < c; ++j) {
      const size_t off = rows.next();
      krow[j] = kbase + off;
      vrow[j] = vbase + off;
    }
    // K chunk -> kt (transposed), V chunk -> vc; rows past c and dims past hd are zero.
    for (int d0 = 0; d0 < hdp; d0 += W) {
      const int dn = hd - d0 < W ? hd - d0 : W;
      F r[W];
      for (int j = 0; j < W; ++j) {
        if (j >= c) {
          r[j] = V::zero();
          V::store(vc + size_t(j) * hdp + d0, V::zero());
        } else if (dn == W) {
          r[j] = load_elems<V, E>(krow[j], d0);
          V::store(vc + size_t(j) * hdp + d0, load_elems<V, E>(vrow[j], d0));
        } else {
          r[j] = load_elems_part<V, E>(krow[j], d0, dn);
          V::store(vc + size_t(j) * hdp + d0, load_elems_part<V, E>(vrow[j], d0, dn));
        }
      }
      V::transpose(r);
      for (int d = 0; d < W; ++d) V::store(kt + size_t(d0 + d) * W, r[d]);
    }
    for (int r0 = 0; r0 < nr; r0 += kGroup) {
      const int g = nr - r0 < kGroup ? nr - r0 : kGroup;
      const float* qrows[kGroup];
      float* arows[kGroup];
      const float* prows[kGroup];
      int n_max = 0;  // most positions of the chunk any row of the group sees
      for (int i = 0; i < g; ++i) {
        const int r = r0 + i, q = r / nh, h = r % nh;
        qrows[i] = a.q + (size_t(tokens[q]) * a.n_heads + head0 + h) * hd;
        arows[i] = acc + size_t(r) * hdp;
        prows[i] = probs + size_t(r) * W;
      }
      F sv[kGroup];
      qk_group_n<V>(g, qrows, kt, hd, sv);
      // Online softmax per row; masked lanes (the future, past the chunk) weigh 0.
      for (int i = 0; i < g; ++i) {
        const int r = r0 + i;
        const int valid_raw = a.positions[tokens[r / nh]] - p0 + 1;
        const int valid = valid_raw < 0 ? 0 : (valid_raw < c ? valid_raw : c);
        n_max = valid > n_max ? valid : n_max;
        float* pr = probs + size_t(r) * W;
        if (valid == 0) {
          V::store(pr, V::zero());
          continue;
        }
        F s = V::mul(sv[i], scale);
        if (valid < W) s = V::blend_part(s, neg_inf, valid);
        const float cmax = V::reduce_max(s);
        float* sum_r = run_sum + size_t(r) * W;
        if (cmax > run_max[r]) {  // rescale the sums to the new max (zeros the first time)
          const F cv = V::set1(::expf(run_max[r] - cmax));
          run_max[r] = cmax;
          V::store(sum_r, V::mul(V::load(sum_r), cv));
          for (int d0 = 0; d0 < hdp; d0 += W) V::store(arows[i] + d0, V::mul(V::load(arows[i] + d0), cv));
        }
        F e = V::exp(V::sub(s, V::set1(run_max[r])));
        if (valid < W) e = V::blend_part(e, V::zero(), valid);
        V::store(sum_r, V::add(V::load(sum_r), e));
        V::store(pr, e);
      }
      if (n_max > 0) pv_group_n<V>(g, arows, prows, n_max, vc, hdp);
    }
  }
  for (int r = 0; r < nr; ++r) {
    const int q = r / nh, h = r % nh;
    float* out = a.out + (size_t(tokens[q]) * a.n_heads + head0 + h) * hd;
    const float inv = 1.0f / V::reduce_add(V::load(run_sum + size_t(r) * W));
    const float* src = acc + size_t(r) * hdp;
    for (int i = 0; i < hd; ++i) out[i] = src[i] * inv;
  }
}

// Below this many query-heads per task the K transpose does not pay for itself.
inline constexpr int kTileMinQueryHeads = 4;

template <class V>
void attention(const AttentionArgs& a, const int32_t* tokens, int nq, int head0, int nh, float* scratch) {
  // The tile kernel masks only the future; a sliding window goes query by query.
  if (nq * nh >= kTileMinQueryHeads && a.window == 0) {
    if (a.kv_f16) {
      attention_tile<V, Elem::kF16>(a, tokens, nq, head0, nh, scratch);
    } else {
      attention_tile<V, Elem::kF32>(a, tokens, nq, head0, nh, scratch);
    }
    return;
  }
  for (int q = 0; q < nq; ++q) {
    if (a.kv_f16) {
      attention_typed<V, Elem::kF16>(a, tokens[q], head0, nh, scratch);
    } else {
      attention_typed<V, Elem::kF32>(a, tokens[q], head0, nh, scratch);
    }
  }
}

}  // namespace
}  // namespace llmos::cpu
