// Kernels the model families beyond plain llama need: GELU gating, bias add,
// scaling, column splits of fused projections, mixture-of-experts routing and
// the weighted combination of expert outputs. Simple grid-stride kernels in f32,
// each the CPU driver's formula.
#include "device_util.cuh"
#include "kernels.hpp"

namespace llmos::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float gelu_tanh(float x) {
  const float kSqrt2OverPi = 0.79788456080286535588f;
  return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

__global__ void geglu_kernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = gelu_tanh(gate[i]) * up[i];
}

__global__ void add_bias_kernel(float* x, const float* bias, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] += bias[i % cols];
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= s;
}

__global__ void copy_columns_kernel(const float* src, int src_cols, int col0, int cols, float* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / cols, c = i % cols;
    dst[i] = src[t * src_cols + col0 + c];
  }
}

// One thread per token (expert counts are small).
__global__ void moe_route_kernel(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= n) return;
  const float* l = logits + int64_t(t) * n_experts;
  int32_t* id = ids + int64_t(t) * k;
  float* w = weights + int64_t(t) * k;
  float mx = l[0];
  for (int e = 1; e < n_experts; ++e) mx = fmaxf(mx, l[e]);
  float sum = 0.0f;
  for (int e = 0; e < n_experts; ++e) sum += expf(l[e] - mx);
  float picked = 0.0f;
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int e = 0; e < n_experts; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || id[i] == e;
      if (!taken && (best < 0 || l[e] > l[best])) best = e;
    }
    id[j] = best;
    w[j] = expf(l[best] - mx) / sum;
    picked += w[j];
  }
  for (int j = 0; j < k; ++j) w[j] /= picked;
}

__global__ void moe_combine_kernel(const float* o, const int32_t* where, const float* weights, int k, int dim,
                                   float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / dim, c = i % dim;
    float acc = 0.0f;
    for (int j = 0; j < k; ++j) acc += weights[t * k + j] * o[int64_t(where[t * k + j]) * dim + c];
    y[i] = acc;
  }
}

}  // namespace

cudaError_t launch_geglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  geglu_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

cudaError_t launch_add_bias(float* x, const float* bias, int n, int64_t cols, cudaStream_t stream) {
  const int64_t total = int64_t(n) * cols;
  if (total <= 0) return cudaSuccess;
  add_bias_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(x, bias, total, cols);
  return cudaGetLastError();
}

cudaError_t launch_scale(float* x, float s, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  scale_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, s, n);
  return cudaGetLastError();
}

cudaError_t launch_copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n,
                                cudaStream_t stream) {
  const int64_t total = int64_t(n) * cols;
  if (total <= 0) return cudaSuccess;
  copy_columns_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(src, src_cols, col0, cols, dst, total);
  return cudaGetLastError();
}

cudaError_t launch_moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights,
                             cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  moe_route_kernel<<<(n + 127) / 128, 128, 0, stream>>>(logits, n, n_experts, k, ids, weights);
  return cudaGetLastError();
}

cudaError_t launch_moe_combine(const float* o, const int32_t* where, const float* weights, int n, int k, int dim,
                               float* y, cudaStream_t stream) {
  const int64_t total = int64_t(n) * dim;
  if (total <= 0) return cudaSuccess;
  moe_combine_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(o, where, weights, k, dim, y, total);
  return cudaGetLastError();
}

}  // namespace llmos::cuda
