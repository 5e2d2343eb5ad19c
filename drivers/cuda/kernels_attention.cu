// Attention over the paged KV cache. Decode: one block per (work item, KV head,
// group tile): each warp scores 32 positions at a time (one lane per key row),
// keeps an online softmax per query head, and accumulates V with lanes across
// head dims; the block's warps are merged in shared memory, and a context split
// over several work items is merged by reduce_attention_kernel. Prefill: one
// block per (32-query tile, head), K/V tiles of 32 positions staged in shared
// memory, online softmax, causal mask; the score matrix never leaves the tile.
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "kernels.hpp"

namespace llmos::cuda {
namespace {

constexpr int kDecodeWarps = 4;
constexpr int kQT = kPrefillTile;  // query rows per prefill block
// Key rows per prefill K/V tile: 16 for head_dim > 128 keeps shared memory
// under the 99 KB opt-in limit of sm_86/sm_89.
__host__ __device__ constexpr int prefill_key_tile(int hd) { return hd > 128 ? 16 : 32; }

// exp(m - M) for rescaling a running sum kept at max m to max M; 0 when m is
// -inf (nothing seen yet: a sliding window can mask a whole chunk or split).
__device__ __forceinline__ float rescale(float m, float M) { return m == -INFINITY ? 0.0f : expf(m - M); }

__device__ __forceinline__ int64_t slot_of(const int32_t* table, int pos, int block_size) {
  return int64_t(table[pos / block_size]) * block_size + pos % block_size;
}

// s[g] += q_s[g][:] . krow[:] for hd <= 32 * DPL. With vector loads, up to 8
// 16-byte loads of the row are issued before any is used, so a lane keeps
// 128 bytes in flight instead of waiting for each load in turn.
template <typename KV, int G, int DPL>
__device__ __forceinline__ void score_row(const KV* krow, const float* q_s, int hd, bool vec, float (&s)[G]) {
  constexpr int kPer = 16 / int(sizeof(KV));         // elements per 16-byte load
  constexpr int kLoads = (32 * DPL + kPer - 1) / kPer;  // loads that cover the largest hd
  if (vec) {
#pragma unroll
    for (int c0 = 0; c0 < kLoads; c0 += 8) {
      uint4 raw[8];
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        if (c0 + c < kLoads && (c0 + c) * kPer < hd) raw[c] = __ldg(reinterpret_cast<const uint4*>(krow) + c0 + c);
      }
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        if (c0 + c >= kLoads || (c0 + c) * kPer >= hd) continue;
        const int d = (c0 + c) * kPer;
        float k[kPer];
        if constexpr (sizeof(KV) == 2) {
          const __half2* h2 = reinterpret_cast<const __half2*>(&raw[c]);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const float2 f = __half22float2(h2[i]);
            k[2 * i] = f.x;
            k[2 * i + 1] = f.y;
          }
        } else {
          const float4 f = *reinterpret_cast<const float4*>(&raw[c]);
          k[0] = f.x, k[1] = f.y, k[2] = f.z, k[3] = f.w;
        }
#pragma unroll
        for (int g = 0; g < G; ++g) {  // q_s + g * hd + d is 16-byte aligned: hd % kPer == 0
#pragma unroll
          for (int i = 0; i < kPer; i += 4) {
            const float4 q = *reinterpret_cast<const float4*>(q_s + g * hd + d + i);
            s[g] = fmaf(q.x, k[i], s[g]);
            s[g] = fmaf(q.y, k[i + 1], s[g]);
            s[g] = fmaf(q.z, k[i + 2], s[g]);
            s[g] = fmaf(q.w, k[i + 3], s[g]);
          }
        }
      }
    }
    return;
  }
  for (int d = 0; d < hd; ++d) {
    const float k = load_as_float(krow + d);
#pragma unroll
    for (int g = 0; g < G; ++g) s[g] = fmaf(q_s[g * hd + d], k, s[g]);
  }
}

template <typename KV, int G, int DPL>
__global__ void __launch_bounds__(kDecodeWarps * 32) decode_attention_kernel(AttentionParams p) {
  extern __shared__ __align__(16) float smem[];
  const int hd = p.head_dim;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float* q_s = smem;                          // [G][hd]
  float* p_s = q_s + G * hd;                  // [warps][G][32] softmax weights of a chunk
  float* m_s = p_s + kDecodeWarps * G * 32;   // [warps][G]
  float* l_s = m_s + kDecodeWarps * G;        // [warps][G]
  float* acc_s = l_s + kDecodeWarps * G;      // [warps][G][hd]

  const DecodeWork wk = p.work[blockIdx.x];
  const int head_tiles = p.group / G;
  const int kvh = blockIdx.y / head_tiles;
  const int h0 = kvh * p.group + (blockIdx.y % head_tiles) * G;
  const int t = wk.token;
  const float* qt = p.q + (int64_t(t) * p.n_heads + h0) * hd;
  for (int i = threadIdx.x; i < G * hd; i += blockDim.x) q_s[i] = qt[i];
  __syncthreads();

  const int32_t* table = p.block_tables + int64_t(p.seq_index[t]) * p.max_blocks;
  const KV* kbase = static_cast<const KV*>(p.k_plane) + int64_t(kvh) * hd;
  const KV* vbase = static_cast<const KV*>(p.v_plane) + int64_t(kvh) * hd;
  float m[G], l[G], acc[G][DPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int i = 0; i < DPL; ++i) acc[g][i] = 0.0f;
  }
  float* pw = p_s + warp * G * 32;
  // A sliding window masks the positions before `lo` (a warp may then see none).
  const int lo = p.window > 0 ? max(0, p.positions[t] - p.window + 1) : 0;
  for (int base = wk.p_begin + warp * 32; base < wk.p_end; base += kDecodeWarps * 32) {
    const int pos = base + lane;
    const bool valid = pos >= lo && pos < wk.p_end;
    long long slot = valid ? slot_of(table, pos, p.block_size) : 0;
    float s[G];
#pragma unroll
    for (int g = 0; g < G; ++g) s[g] = 0.0f;
    if (valid) score_row<KV, G, DPL>(kbase + slot * p.kv_dim, q_s, hd, p.vec_ok, s);
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float sc = valid ? s[g] * p.scale : -INFINITY;
      const float nm = fmaxf(m[g], warp_max(sc));  // -inf while the window masked every lane
      const float corr = rescale(m[g], nm);        // 0 on the first chunk
      const float pj = valid ? expf(sc - nm) : 0.0f;
      l[g] = l[g] * corr + warp_sum(pj);
      m[g] = nm;
#pragma unroll
      for (int i = 0; i < DPL; ++i) acc[g][i] *= corr;
      pw[g * 32 + lane] = pj;
    }
    __syncwarp();
    const int n_valid = min(32, wk.p_end - base);
#pragma unroll 4
    for (int j = 0; j < n_valid; ++j) {
      const long long sj = __shfl_sync(kFullMask, slot, j);
      const KV* vrow = vbase + sj * p.kv_dim;
      float v[DPL];
#pragma unroll
      for (int i = 0; i < DPL; ++i) {
        const int d = lane * DPL + i;
        v[i] = d < hd ? load_as_float(vrow + d) : 0.0f;
      }
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const float pj = pw[g * 32 + j];
#pragma unroll
        for (int i = 0; i < DPL; ++i) acc[g][i] = fmaf(pj, v[i], acc[g][i]);
      }
    }
    __syncwarp();
  }

  // Merge the warps: rescale each to the block's max, then sum.
  if (lane == 0) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
      m_s[warp * G + g] = m[g];
      l_s[warp * G + g] = l[g];
    }
  }
  __syncthreads();
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float M = m_s[g];
    for (int w = 1; w < kDecodeWarps; ++w) M = fmaxf(M, m_s[w * G + g]);
    const float f = rescale(m[g], M);  // 0 for a warp that saw no position
#pragma unroll
    for (int i = 0; i < DPL; ++i) {
      const int d = lane * DPL + i;
      if (d < hd) acc_s[(warp * G + g) * hd + d] = acc[g][i] * f;
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < G * hd; idx += blockDim.x) {
    const int g = idx / hd, d = idx % hd;
    float M = m_s[g];
    for (int w = 1; w < kDecodeWarps; ++w) M = fmaxf(M, m_s[w * G + g]);
    float L = 0.0f, O = 0.0f;
    for (int w = 0; w < kDecodeWarps; ++w) {
      L += l_s[w * G + g] * rescale(m_s[w * G + g], M);
      O += acc_s[(w * G + g) * hd + d];
    }
    const int h = h0 + g;
    if (wk.n_split == 1) {
      p.out[(int64_t(t) * p.n_heads + h) * hd + d] = O / L;
    } else {
      const int64_t at = int64_t(blockIdx.x) * p.n_heads + h;
      p.partial_acc[at * hd + d] = O;
      if (d == 0) {
        p.partial_ml[at * 2] = M;
        p.partial_ml[at * 2 + 1] = L;
      }
    }
  }
}

// One block per (split token, head).
__global__ void reduce_attention_kernel(AttentionParams p) {
  const ReduceItem it = p.reduce[blockIdx.x];
  const int h = blockIdx.y, hd = p.head_dim;
  float M = -INFINITY;
  for (int i = 0; i < it.n_split; ++i) M = fmaxf(M, p.partial_ml[(int64_t(it.first_work + i) * p.n_heads + h) * 2]);
  float L = 0.0f;
  for (int i = 0; i < it.n_split; ++i) {
    const float* ml = p.partial_ml + (int64_t(it.first_work + i) * p.n_heads + h) * 2;
    L += ml[1] * rescale(ml[0], M);
  }
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float O = 0.0f;
    for (int i = 0; i < it.n_split; ++i) {
      const int64_t at = int64_t(it.first_work + i) * p.n_heads + h;
      O += p.partial_acc[at * hd + d] * rescale(p.partial_ml[at * 2], M);
    }
    p.out[(int64_t(it.token) * p.n_heads + h) * hd + d] = O / L;
  }
}

// Thread (r = tid / 4, c = tid % 4) owns query row r: scores of keys c + 4j and
// output dims c + 4i, so a row's softmax state lives in 4 neighbouring lanes.
template <typename KV, int HDM>
__global__ void __launch_bounds__(128) prefill_attention_kernel(AttentionParams p) {
  constexpr int kKT = prefill_key_tile(HDM);
  constexpr int DPT = HDM / 4;
  constexpr int SPT = kKT / 4;
  extern __shared__ __align__(16) float smem[];
  const int hd = p.head_dim, ld = hd + 1;
  float* Qs = smem;                 // [QT][hd + 1]
  float* Ks = Qs + kQT * ld;        // [KT][hd + 1]
  float* Vs = Ks + kKT * ld;        // [KT][hd]
  float* Ps = Vs + kKT * hd;        // [QT][KT + 1]
  const size_t pf = (size_t(kQT) * ld + size_t(kKT) * ld + size_t(kKT) * hd + size_t(kQT) * (kKT + 1) + 1) / 2 * 2;
  long long* slots = reinterpret_cast<long long*>(smem + pf);  // [KT], -1 past the tile's last position

  const PrefillTile tile = p.tiles[blockIdx.x];
  const int h = blockIdx.y, kvh = h / p.group;
  const int t0 = tile.first_token, nq = tile.n_tokens;
  const int pos0 = p.positions[t0];
  const int last = pos0 + nq - 1;
  const int32_t* table = p.block_tables + int64_t(p.seq_index[t0]) * p.max_blocks;
  const KV* kbase = static_cast<const KV*>(p.k_plane) + int64_t(kvh) * hd;
  const KV* vbase = static_cast<const KV*>(p.v_plane) + int64_t(kvh) * hd;
  const int tid = threadIdx.x;
  for (int idx = tid; idx < kQT * hd; idx += blockDim.x) {
    const int r = idx / hd, d = idx % hd;
    Qs[r * ld + d] = r < nq ? p.q[(int64_t(t0 + r) * p.n_heads + h) * hd + d] : 0.0f;
  }
  const int r = tid >> 2, cq = tid & 3;
  const int qpos = r < nq ? pos0 + r : -1;
  float m = -INFINITY, l = 0.0f, o[DPT];
#pragma unroll
  for (int i = 0; i < DPT; ++i) o[i] = 0.0f;

  for (int k0 = 0; k0 <= last; k0 += kKT) {
    __syncthreads();  // the previous tile is no longer read
    if (tid < kKT) {
      const int kp = k0 + tid;
      slots[tid] = kp <= last ? slot_of(table, kp, p.block_size) : -1;
    }
    __syncthreads();
    for (int idx = tid; idx < kKT * hd; idx += blockDim.x) {
      const int c = idx / hd, d = idx % hd;
      const long long s = slots[c];
      float kv = 0.0f, vv = 0.0f;
      if (s >= 0) {
        kv = load_as_float(kbase + s * p.kv_dim + d);
        vv = load_as_float(vbase + s * p.kv_dim + d);
      }
      Ks[c * ld + d] = kv;
      Vs[c * hd + d] = vv;
    }
    __syncthreads();

    float sc[SPT];
#pragma unroll
    for (int j = 0; j < SPT; ++j) sc[j] = 0.0f;
    for (int d = 0; d < hd; ++d) {
      const float qv = Qs[r * ld + d];
#pragma unroll
      for (int j = 0; j < SPT; ++j) sc[j] = fmaf(qv, Ks[(cq + 4 * j) * ld + d], sc[j]);
    }
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < SPT; ++j) {
      const int kp = k0 + cq + 4 * j;
      const bool seen = kp <= qpos && (p.window == 0 || kp > qpos - p.window);
      sc[j] = seen ? sc[j] * p.scale : -INFINITY;
      mx = fmaxf(mx, sc[j]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 2));
    const float nm = fmaxf(m, mx);
    float corr = 1.0f, sum = 0.0f;
    if (nm != -INFINITY) {  // rows past the tile (qpos = -1) stay empty
      corr = expf(m - nm);
#pragma unroll
      for (int j = 0; j < SPT; ++j) {
        sc[j] = expf(sc[j] - nm);
        sum += sc[j];
      }
    } else {
#pragma unroll
      for (int j = 0; j < SPT; ++j) sc[j] = 0.0f;
    }
    sum += __shfl_xor_sync(kFullMask, sum, 1);
    sum += __shfl_xor_sync(kFullMask, sum, 2);
    l = l * corr + sum;
    m = nm;
#pragma unroll
    for (int i = 0; i < DPT; ++i) o[i] *= corr;
#pragma unroll
    for (int j = 0; j < SPT; ++j) Ps[r * (kKT + 1) + cq + 4 * j] = sc[j];
    __syncthreads();
    for (int c = 0; c < kKT; ++c) {
      const float pc = Ps[r * (kKT + 1) + c];
#pragma unroll
      for (int i = 0; i < DPT; ++i) {
        const int d = cq + 4 * i;
        if (d < hd) o[i] = fmaf(pc, Vs[c * hd + d], o[i]);
      }
    }
  }
  if (r < nq) {
    float* dst = p.out + (int64_t(t0 + r) * p.n_heads + h) * hd;
    const float inv = 1.0f / l;
#pragma unroll
    for (int i = 0; i < DPT; ++i) {
      const int d = cq + 4 * i;
      if (d < hd) dst[d] = o[i] * inv;
    }
  }
}

template <typename KV, int G>
cudaError_t decode_for_dpl(const AttentionParams& p, int n_work, cudaStream_t stream) {
  const dim3 grid(unsigned(n_work), unsigned(p.n_kv_heads * (p.group / G)));
  const int hd = p.head_dim;
  const size_t smem = (size_t(G) * hd + kDecodeWarps * G * 32 + 2 * kDecodeWarps * G + size_t(kDecodeWarps) * G * hd) *
                      sizeof(float);
  const int threads = kDecodeWarps * 32;
  if (hd <= 32) {
    decode_attention_kernel<KV, G, 1><<<grid, threads, smem, stream>>>(p);
  } else if (hd <= 64) {
    decode_attention_kernel<KV, G, 2><<<grid, threads, smem, stream>>>(p);
  } else if (hd <= 128) {
    decode_attention_kernel<KV, G, 4><<<grid, threads, smem, stream>>>(p);
  } else {
    decode_attention_kernel<KV, G, 8><<<grid, threads, smem, stream>>>(p);
  }
  return cudaGetLastError();
}

template <typename KV>
cudaError_t decode_for_group(const AttentionParams& p, int n_work, cudaStream_t stream) {
  if (p.group % 8 == 0) return decode_for_dpl<KV, 8>(p, n_work, stream);
  if (p.group % 4 == 0) return decode_for_dpl<KV, 4>(p, n_work, stream);
  if (p.group % 2 == 0) return decode_for_dpl<KV, 2>(p, n_work, stream);
  return decode_for_dpl<KV, 1>(p, n_work, stream);
}

template <typename KV>
cudaError_t prefill_for_hd(const AttentionParams& p, int n_tiles, cudaStream_t stream) {
  const dim3 grid(unsigned(n_tiles), unsigned(p.n_heads));
  const size_t smem = prefill_smem_bytes(p.head_dim);
  if (p.head_dim <= 32) {
    prefill_attention_kernel<KV, 32><<<grid, 128, smem, stream>>>(p);
  } else if (p.head_dim <= 64) {
    prefill_attention_kernel<KV, 64><<<grid, 128, smem, stream>>>(p);
  } else if (p.head_dim <= 128) {
    prefill_attention_kernel<KV, 128><<<grid, 128, smem, stream>>>(p);
  } else {
    prefill_attention_kernel<KV, 256><<<grid, 128, smem, stream>>>(p);
  }
  return cudaGetLastError();
}

template <typename KV, int HDM>
cudaError_t allow_prefill_smem(size_t max_bytes) {
  const size_t need = prefill_smem_bytes(HDM);  // the largest head_dim this instance serves
  if (need <= 48 * 1024) return cudaSuccess;
  return cudaFuncSetAttribute(prefill_attention_kernel<KV, HDM>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              int(need < max_bytes ? need : max_bytes));
}

}  // namespace

size_t prefill_smem_bytes(int hd) {
  const size_t kt = size_t(prefill_key_tile(hd));
  const size_t floats = size_t(kQT) * (hd + 1) + kt * (hd + 1) + kt * hd + size_t(kQT) * (kt + 1);
  return (floats + 1) / 2 * 2 * sizeof(float) + kt * sizeof(long long);
}

cudaError_t init_attention_kernels(size_t max_smem_optin) {
  for (cudaError_t e : {allow_prefill_smem<__half, 32>(max_smem_optin), allow_prefill_smem<__half, 64>(max_smem_optin),
                        allow_prefill_smem<__half, 128>(max_smem_optin), allow_prefill_smem<__half, 256>(max_smem_optin),
                        allow_prefill_smem<float, 32>(max_smem_optin), allow_prefill_smem<float, 64>(max_smem_optin),
                        allow_prefill_smem<float, 128>(max_smem_optin), allow_prefill_smem<float, 256>(max_smem_optin)}) {
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t launch_decode_attention(const AttentionParams& p, int n_work, cudaStream_t stream) {
  if (n_work <= 0) return cudaSuccess;
  return p.kv_f16 ? decode_for_group<__half>(p, n_work, stream) : decode_for_group<float>(p, n_work, stream);
}

cudaError_t launch_reduce_attention(const AttentionParams& p, int n_reduce, cudaStream_t stream) {
  if (n_reduce <= 0) return cudaSuccess;
  reduce_attention_kernel<<<dim3(unsigned(n_reduce), unsigned(p.n_heads)), 128, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_prefill_attention(const AttentionParams& p, int n_tiles, cudaStream_t stream) {
  if (n_tiles <= 0) return cudaSuccess;
  return p.kv_f16 ? prefill_for_hd<__half>(p, n_tiles, stream) : prefill_for_hd<float>(p, n_tiles, stream);
}

}  // namespace llmos::cuda
