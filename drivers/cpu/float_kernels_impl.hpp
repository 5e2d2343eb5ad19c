// The float kernels (matmul over F32/F16/BF16 weights, RMS norm, SwiGLU, add,
// f32->f16; attention in attention_impl.hpp), written once against a vector trait V and
// instantiated by each ISA file with its own V. Everything here has internal
// linkage so every ISA translation unit keeps its own copy, compiled with its
// own flags (a shared inline function could be linked across ISAs and run on a
// CPU without them). Include only from a kernels_*.cpp, after defining V.
//
// V provides: using F (kWidth floats); zero, set1, load, load_part (n < kWidth
// elements, rest zero), load_f16[_part], load_bf16[_part], store, store_part,
// store_f16[_part], add, sub, mul, div, fma(a, b, c) = a*b + c, max, exp, reduce_add,
// reduce_max, reduce_many (lane j = sum of v[j], for kWidth vectors), blend_part
// (lanes >= n from the second argument), transpose (kWidth x kWidth, in place), and the matmul register tile kTileRows x kTileTokens (<= 4).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.hpp"

namespace llmos::cpu {
namespace {

enum class Elem { kF32, kF16, kBF16 };

template <class V, Elem E>
inline typename V::F load_elems(const uint8_t* row, int64_t i) {
  if constexpr (E == Elem::kF32) return V::load(reinterpret_cast<const float*>(row) + i);
  if constexpr (E == Elem::kF16) return V::load_f16(reinterpret_cast<const uint16_t*>(row) + i);
  if constexpr (E == Elem::kBF16) return V::load_bf16(reinterpret_cast<const uint16_t*>(row) + i);
}

template <class V, Elem E>
inline typename V::F load_elems_part(const uint8_t* row, int64_t i, int n) {
  if constexpr (E == Elem::kF32) return V::load_part(reinterpret_cast<const float*>(row) + i, n);
  if constexpr (E == Elem::kF16)
    return V::load_f16_part(reinterpret_cast<const uint16_t*>(row) + i, n);
  if constexpr (E == Elem::kBF16)
    return V::load_bf16_part(reinterpret_cast<const uint16_t*>(row) + i, n);
}

// An R-row x T-token register tile: y[t][r] = w[r] . x[t] over all K columns.
template <class V, Elem E, int R, int T>
void matmul_float_tile(const uint8_t* w, size_t w_row_bytes, const float* x, int64_t K, float* y,
                       int64_t ldy) {
  using F = typename V::F;
  F acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = V::zero();
  int64_t k = 0;
  for (; k + V::kWidth <= K; k += V::kWidth) {
    F wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_elems<V, E>(w + r * w_row_bytes, k);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const F xv = V::load(x + t * K + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = V::fma(wv[r], xv, acc[r][t]);
    }
  }
  if (k < K) {
    const int rem = int(K - k);
    F wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_elems_part<V, E>(w + r * w_row_bytes, k, rem);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const F xv = V::load_part(x + t * K + k, rem);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = V::fma(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[t * ldy + r] = V::reduce_add(acc[r][t]);
}

template <class V, Elem E, int T>
void matmul_float_rows(const Weight& w, const float* x, float* y, int64_t r0, int64_t r1) {
  constexpr int R = V::kTileRows;
  const size_t row_bytes = size_t(w.cols) * (E == Elem::kF32 ? 4 : 2);
  const auto* base = static_cast<const uint8_t*>(w.data);
  int64_t r = r0;
  for (; r + R <= r1; r += R)
    matmul_float_tile<V, E, R, T>(base + r * row_bytes, row_bytes, x, w.cols, y + r, w.rows);
  for (; r < r1; ++r)
    matmul_float_tile<V, E, 1, T>(base + r * row_bytes, row_bytes, x, w.cols, y + r, w.rows);
}

template <class V, Elem E>
void matmul_float_typed(const Weight& w, const float* x, int n, float* y, int64_t r0, int64_t r1) {
  constexpr int T = V::kTileTokens;
  static_assert(T >= 1 && T <= 4);
  // Token tiles of T; a chunk of rows stays in cache across the tiles.
  int t0 = 0;
  for (; t0 + T <= n; t0 += T)
    matmul_float_rows<V, E, T>(w, x + t0 * w.cols, y + int64_t(t0) * w.rows, r0, r1);
  const float* xt = x + t0 * w.cols;
  float* yt = y + int64_t(t0) * w.rows;
  switch (n - t0) {
    case 3: if constexpr (T > 3) matmul_float_rows<V, E, 3>(w, xt, yt, r0, r1); break;
    case 2: if constexpr (T > 2) matmul_float_rows<V, E, 2>(w, xt, yt, r0, r1); break;
    case 1: if constexpr (T > 1) matmul_float_rows<V, E, 1>(w, xt, yt, r0, r1); break;
    default: break;
  }
}

template <class V>
void matmul_float(const Weight& w, const float* x, int n, float* y, int64_t r0, int64_t r1) {
  switch (w.type) {
    case DType::kF32: matmul_float_typed<V, Elem::kF32>(w, x, n, y, r0, r1); return;
    case DType::kF16: matmul_float_typed<V, Elem::kF16>(w, x, n, y, r0, r1); return;
    case DType::kBF16: matmul_float_typed<V, Elem::kBF16>(w, x, n, y, r0, r1); return;
    default: return;  // the driver routes quantized types elsewhere
  }
}

template <class V>
void rms_norm(const float* x, const float* gain, float* y, int dim, float eps) {
  using F = typename V::F;
  F s0 = V::zero(), s1 = V::zero();
  int i = 0;
  for (; i + 2 * V::kWidth <= dim; i += 2 * V::kWidth) {
    const F a = V::load(x + i), b = V::load(x + i + V::kWidth);
    s0 = V::fma(a, a, s0);
    s1 = V::fma(b, b, s1);
  }
  for (; i + V::kWidth <= dim; i += V::kWidth) {
    const F a = V::load(x + i);
    s0 = V::fma(a, a, s0);
  }
  if (i < dim) {
    const F a = V::load_part(x + i, dim - i);
    s1 = V::fma(a, a, s1);
  }
  const float mean = V::reduce_add(V::add(s0, s1)) / float(dim);
  const F scale = V::set1(1.0f / ::sqrtf(mean + eps));
  i = 0;
  for (; i + V::kWidth <= dim; i += V::kWidth)
    V::store(y + i, V::mul(V::mul(V::load(x + i), scale), V::load(gain + i)));
  if (i < dim) {
    const int rem = dim - i;
    V::store_part(y + i, V::mul(V::mul(V::load_part(x + i, rem), scale), V::load_part(gain + i, rem)),
                  rem);
  }
}

template <class V>
inline typename V::F silu_mul(typename V::F g, typename V::F u) {
  // silu(g) * u = g * u / (1 + exp(-g))
  const typename V::F one = V::set1(1.0f);
  const typename V::F e = V::exp(V::sub(V::zero(), g));
  return V::div(V::mul(g, u), V::add(one, e));
}

template <class V>
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth)
    V::store(out + i, silu_mul<V>(V::load(gate + i), V::load(up + i)));
  if (i < n) {
    const int rem = int(n - i);
    V::store_part(out + i, silu_mul<V>(V::load_part(gate + i, rem), V::load_part(up + i, rem)), rem);
  }
}

template <class V>
void add(float* x, const float* y, int64_t n) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(x + i, V::add(V::load(x + i), V::load(y + i)));
  if (i < n) {
    const int rem = int(n - i);
    V::store_part(x + i, V::add(V::load_part(x + i, rem), V::load_part(y + i, rem)), rem);
  }
}

template <class V>
void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store_f16(y + i, V::load(x + i));
  if (i < n) V::store_f16_part(y + i, V::load_part(x + i, int(n - i)), int(n - i));
}

template <class V>
void fill_float_kernels(CpuKernels& k) {
  k.matmul_float = &matmul_float<V>;
  k.rms_norm = &rms_norm<V>;
  k.swiglu = &swiglu<V>;
  k.add = &add<V>;
  k.f32_to_f16 = &f32_to_f16<V>;
}

}  // namespace
}  // namespace llmos::cpu
