// Sampling on the device, one block per row of logits: greedy argmax, or the
// top-k candidates found by a 4-pass radix select over order-preserving float
// keys (ties at the k-th value broken by lower id, as the host Sampler does),
// sorted, then top-p / min-p cuts and a draw at the row's temperature.
#include <cstdint>

#include "device_util.cuh"
#include "kernels.hpp"

namespace llmos::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kMaxK = kMaxSampleTopK;

__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// (value, id) with the larger value, the lower id on ties.
__device__ __forceinline__ void better(float& v, int& i, float v2, int i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

__device__ int block_argmax(const float* L, int n, float* red_v, int* red_i) {
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (int v = threadIdx.x; v < n; v += blockDim.x) better(bv, bi, L[v], v);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float v2 = __shfl_xor_sync(kFullMask, bv, o);
    const int i2 = __shfl_xor_sync(kFullMask, bi, o);
    better(bv, bi, v2, i2);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    red_v[warp] = bv;
    red_i[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < int(blockDim.x / 32); ++w) better(bv, bi, red_v[w], red_i[w]);
    red_i[0] = bi < n ? bi : 0;
  }
  __syncthreads();
  return red_i[0];
}

__global__ void __launch_bounds__(kThreads) sample_kernel(const float* logits, int n_vocab,
                                                         const SampleRowParams* rows, int32_t* out) {
  __shared__ float red_v[32];
  __shared__ int red_i[32];
  __shared__ unsigned hist[256];
  __shared__ float cand_v[kMaxK];
  __shared__ int cand_i[kMaxK];
  __shared__ float sort_v[kMaxK];
  __shared__ int sort_i[kMaxK];
  __shared__ uint32_t s_prefix, s_mask;
  __shared__ int s_need, s_count, s_taken;

  const float* L = logits + int64_t(blockIdx.x) * n_vocab;
  const SampleRowParams prm = rows[blockIdx.x];
  const int tid = threadIdx.x;
  if (prm.temperature <= 0.0f) {
    const int best = block_argmax(L, n_vocab, red_v, red_i);
    if (tid == 0) out[blockIdx.x] = best;
    return;
  }
  const int k = prm.top_k < n_vocab ? prm.top_k : n_vocab;

  // Radix select: the key of the k-th largest logit, 8 bits per pass.
  if (tid == 0) {
    s_prefix = 0;
    s_mask = 0;
    s_need = k;
  }
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = tid; i < 256; i += blockDim.x) hist[i] = 0;
    __syncthreads();
    const uint32_t prefix = s_prefix, mask = s_mask;
    for (int v = tid; v < n_vocab; v += blockDim.x) {
      const uint32_t u = order_key(L[v]);
      if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (tid == 0) {
      int cum = 0;
      for (int dgt = 255; dgt >= 0; --dgt) {
        if (cum + int(hist[dgt]) >= s_need) {
          s_prefix = prefix | (uint32_t(dgt) << shift);
          s_mask = mask | (255u << shift);
          s_need -= cum;
          break;
        }
        cum += int(hist[dgt]);
      }
    }
    __syncthreads();
  }
  const uint32_t T = s_prefix;
  const int need_eq = s_need;   // how many logits equal to the k-th one to take
  const int n_gt = k - need_eq;  // all logits above it are in
  if (tid == 0) {
    s_count = 0;
    s_taken = 0;
  }
  __syncthreads();
  for (int v = tid; v < n_vocab; v += blockDim.x) {
    if (order_key(L[v]) > T) {
      const int at = atomicAdd(&s_count, 1);
      cand_v[at] = L[v];
      cand_i[at] = v;
    }
  }
  // The equal ones in id order: a block-wide prefix count per chunk of ids.
  const int lane = tid & 31, warp = tid >> 5;
  for (int base = 0; base < n_vocab; base += blockDim.x) {
    __syncthreads();
    const int taken = s_taken;
    if (taken >= need_eq) break;
    const int v = base + tid;
    const bool flag = v < n_vocab && order_key(L[v]) == T;
    const unsigned ballot = __ballot_sync(kFullMask, flag);
    if (lane == 0) red_i[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, total = 0;
    for (int w = 0; w < int(blockDim.x / 32); ++w) {
      before += w < warp ? red_i[w] : 0;
      total += red_i[w];
    }
    const int rank = taken + before + __popc(ballot & ((1u << lane) - 1u));
    if (flag && rank < need_eq) {
      cand_v[n_gt + rank] = L[v];
      cand_i[n_gt + rank] = v;
    }
    __syncthreads();
    if (tid == 0) s_taken = taken + total;
  }
  __syncthreads();
  // Sort by (logit desc, id asc): each candidate's rank is how many come before it.
  for (int i = tid; i < k; i += blockDim.x) {
    const float vi = cand_v[i];
    const int ii = cand_i[i];
    int r = 0;
    for (int j = 0; j < k; ++j) r += (cand_v[j] > vi || (cand_v[j] == vi && cand_i[j] < ii)) ? 1 : 0;
    sort_v[r] = vi;
    sort_i[r] = ii;
  }
  __syncthreads();
  if (tid != 0) return;
  // The host Sampler's arithmetic from here on (sampler.cpp), serially.
  float* p = cand_v;
  int n = k;
  const float max_l = sort_v[0];
  auto softmax = [&](int count, float inv_temp) {
    double sum = 0.0;
    for (int i = 0; i < count; ++i) {
      p[i] = expf((sort_v[i] - max_l) * inv_temp);
      sum += p[i];
    }
    for (int i = 0; i < count; ++i) p[i] = float(p[i] / sum);
  };
  softmax(n, 1.0f);
  if (prm.top_p < 1.0f) {
    double cum = 0.0;
    int keep = n;
    for (int i = 0; i < n; ++i) {
      cum += p[i];
      if (cum >= prm.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (prm.min_p > 0.0f) {
    const float cut = prm.min_p * p[0];
    int keep = 1;
    while (keep < n && p[keep] >= cut) ++keep;
    n = keep;
  }
  softmax(n, 1.0f / prm.temperature);
  double cum = 0.0;
  int pick = sort_i[n - 1];
  for (int i = 0; i < n; ++i) {
    cum += p[i];
    if (prm.uniform < cum) {
      pick = sort_i[i];
      break;
    }
  }
  out[blockIdx.x] = pick;
}

}  // namespace

cudaError_t launch_sample(const float* logits, int n_rows, int n_vocab, const SampleRowParams* rows, int32_t* out,
                          cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  sample_kernel<<<unsigned(n_rows), kThreads, 0, stream>>>(logits, n_vocab, rows, out);
  return cudaGetLastError();
}

}  // namespace llmos::cuda
