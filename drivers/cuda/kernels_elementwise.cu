// Element-wise and row kernels: embed, rms_norm, rope, swiglu, add, kv_store,
// gather_rows, f32 -> f16/bf16. Each mirrors the CPU driver's formula in f32.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "kernels.hpp"
#include "quant_ext_device.cuh"

namespace llmos::cuda {
namespace {

constexpr int kThreads = 256;

// One block per token; threads stride over the columns.
__global__ void embed_kernel(int type, const void* data, int64_t rows, int64_t cols, int64_t row_bytes,
                             bool ext, const int32_t* ids, float* out) {
  const int t = blockIdx.x;
  const int64_t r = ids[t];
  float* dst = out + int64_t(t) * cols;
  const int64_t nb = cols / 32;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float v;
    if (ext) {  // GGUF layout
      dst[c] = ext_dequant(type, static_cast<const uint8_t*>(data) + r * row_bytes, c);
      continue;
    }
    switch (type) {
      case int(DType::kF32): v = static_cast<const float*>(data)[r * cols + c]; break;
      case int(DType::kF16): v = f16_bits_to_float(static_cast<const uint16_t*>(data)[r * cols + c]); break;
      case int(DType::kBF16): v = bf16_bits_to_float(static_cast<const uint16_t*>(data)[r * cols + c]); break;
      case int(DType::kQ8_0): {
        const auto* qs = static_cast<const int8_t*>(data);
        const auto* d = reinterpret_cast<const uint16_t*>(qs + rows * cols);
        v = f16_bits_to_float(d[r * nb + c / 32]) * float(qs[r * cols + c]);
        break;
      }
      default: {  // Q4_0
        const auto* qs = static_cast<const uint8_t*>(data);
        const auto* d = reinterpret_cast<const uint16_t*>(qs + rows * cols / 2);
        const int j = int(c % 32);
        const uint8_t byte = qs[r * (cols / 2) + (c / 32) * 16 + (j & 15)];
        const int q = j < 16 ? (byte & 15) : (byte >> 4);
        v = f16_bits_to_float(d[r * nb + c / 32]) * float(q - 8);
        break;
      }
    }
    dst[c] = v;
  }
}

__global__ void rms_norm_kernel(const float* x, const float* gain, float* y, int dim, float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  float* yr = y + row * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
  ss = block_sum(ss, scratch);
  const float scale = 1.0f / sqrtf(ss / float(dim) + eps);
  // Each element is read and written by the same thread: in place is safe.
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * scale * gain[i];
}

__global__ void rope_table_kernel(const int32_t* positions, int n_tokens, int half, float theta_scale,
                                  const float* freq_factors, float freq_scale, float* table) {
  const int64_t n = int64_t(n_tokens) * half;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int t = int(idx / half), i = int(idx % half);
    float theta = float(positions[t]);
    for (int k = 0; k < i; ++k) theta *= theta_scale;  // the CPU's exact sequence of roundings
    if (freq_factors != nullptr) theta = theta / freq_factors[i];
    theta = freq_scale * theta;
    float s, c;
    sincosf(theta, &s, &c);
    table[2 * idx] = c;
    table[2 * idx + 1] = s;
  }
}

__global__ void rope_kernel(float* x, const float* table, int n_tokens, int n_heads, int head_dim, int half,
                            bool neox) {
  const int64_t n = int64_t(n_tokens) * n_heads * half;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int i = int(idx % half);
    const int64_t th = idx / half;  // token * n_heads + head
    const int t = int(th / n_heads);
    const float c = table[(int64_t(t) * half + i) * 2], s = table[(int64_t(t) * half + i) * 2 + 1];
    const int partner = neox ? half : 1;
    float* v = x + th * head_dim + (neox ? i : 2 * i);
    const float x0 = v[0], x1 = v[partner];
    v[0] = x0 * c - x1 * s;
    v[partner] = x0 * s + x1 * c;
  }
}

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i], u = up[i];
    out[i] = g * u / (1.0f + expf(-g));
  }
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

template <typename T>
__global__ void kv_store_kernel(T* kp, T* vp, int kv_dim, const float* k, const float* v, const int32_t* slots,
                                int n_tokens) {
  const int64_t n = int64_t(n_tokens) * kv_dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / kv_dim, e = i % kv_dim;
    const int64_t dst = int64_t(slots[t]) * kv_dim + e;
    kp[dst] = from_float<T>(k[i]);
    vp[dst] = from_float<T>(v[i]);
  }
}

__global__ void gather_rows_kernel(const float* x, const int32_t* rows, int n_rows, int dim, float* y) {
  const int64_t n = int64_t(n_rows) * dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, c = i % dim;
    y[i] = x[int64_t(rows[r]) * dim + c];
  }
}

__global__ void to_f16_kernel(const float* x, __half* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __float2half_rn(x[i]);
}
__global__ void to_bf16_kernel(const float* x, __nv_bfloat16* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}

}  // namespace

cudaError_t launch_embed(const Weight& table, const int32_t* token_ids, int n_tokens, float* out,
                         cudaStream_t stream) {
  if (n_tokens <= 0 || table.cols <= 0) return cudaSuccess;
  const int threads = table.cols >= kThreads ? kThreads : int((table.cols + 31) / 32 * 32);
  embed_kernel<<<n_tokens, threads, 0, stream>>>(int(table.type), table.data, table.rows, table.cols,
                                                 dtype_row_bytes(table.type, table.cols), is_ext_quant(table.type),
                                                 token_ids, out);
  return cudaGetLastError();
}

cudaError_t launch_rms_norm(const float* x, const float* gain, float* y, int n, int dim, float eps,
                            cudaStream_t stream) {
  if (n <= 0 || dim <= 0) return cudaSuccess;
  const int threads = dim >= 1024 ? 512 : (dim >= 256 ? 256 : 64);
  rms_norm_kernel<<<n, threads, 0, stream>>>(x, gain, y, dim, eps);
  return cudaGetLastError();
}

cudaError_t launch_rope_table(const int32_t* positions, int n_tokens, int rope_dim, float theta_scale,
                              const float* freq_factors, float freq_scale, float* table, cudaStream_t stream) {
  const int64_t n = int64_t(n_tokens) * (rope_dim / 2);
  if (n <= 0) return cudaSuccess;
  rope_table_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(positions, n_tokens, rope_dim / 2, theta_scale,
                                                                    freq_factors, freq_scale, table);
  return cudaGetLastError();
}

cudaError_t launch_rope(float* x, const float* table, int n_tokens, int n_heads, int head_dim, int rope_dim,
                        bool neox, cudaStream_t stream) {
  const int64_t n = int64_t(n_tokens) * n_heads * (rope_dim / 2);
  if (n <= 0) return cudaSuccess;
  rope_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, table, n_tokens, n_heads, head_dim, rope_dim / 2,
                                                              neox);
  return cudaGetLastError();
}

cudaError_t launch_swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  swiglu_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

cudaError_t launch_add(float* x, const float* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  add_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t launch_kv_store(void* k_plane, void* v_plane, bool f16, int kv_dim, const float* k, const float* v,
                            const int32_t* kv_slots, int n_tokens, cudaStream_t stream) {
  const int64_t n = int64_t(n_tokens) * kv_dim;
  if (n <= 0) return cudaSuccess;
  if (f16) {
    kv_store_kernel<__half><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
        static_cast<__half*>(k_plane), static_cast<__half*>(v_plane), kv_dim, k, v, kv_slots, n_tokens);
  } else {
    kv_store_kernel<float><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
        static_cast<float*>(k_plane), static_cast<float*>(v_plane), kv_dim, k, v, kv_slots, n_tokens);
  }
  return cudaGetLastError();
}

cudaError_t launch_gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* y,
                               cudaStream_t stream) {
  const int64_t n = int64_t(n_rows) * dim;
  if (n <= 0) return cudaSuccess;
  gather_rows_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, rows, n_rows, dim, y);
  return cudaGetLastError();
}

cudaError_t launch_convert_f32(const float* x, void* y, DType to, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (to == DType::kBF16) {
    to_bf16_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, static_cast<__nv_bfloat16*>(y), n);
  } else {
    to_f16_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, static_cast<__half*>(y), n);
  }
  return cudaGetLastError();
}

}  // namespace llmos::cuda
