// Q8_0 / Q4_0 on the device: the upload re-layout, dequantization of row tiles
// to f16 (for cuBLAS), activation quantization and the dp4a matrix-vector
// kernels for small token counts. Layouts: kernels.hpp.
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "kernels.hpp"

namespace llmos::cuda {
namespace {

constexpr int kThreads = 256;

// One thread per 32-element block of the raw GGUF rows.
__global__ void repack_kernel(bool q4, const uint8_t* raw, int64_t r0, int64_t n_rows, int64_t total_rows,
                              int64_t cols, uint8_t* dst) {
  const int64_t nb = cols / 32;
  const int64_t block_bytes = q4 ? 18 : 34, q_bytes = q4 ? 16 : 32;
  uint8_t* qs = dst;
  auto* d = reinterpret_cast<uint16_t*>(dst + (q4 ? total_rows * cols / 2 : total_rows * cols));
  const int64_t n = n_rows * nb;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / nb, b = i % nb;
    const uint8_t* src = raw + r * nb * block_bytes + b * block_bytes;
    const int64_t row = r0 + r;
    d[row * nb + b] = uint16_t(src[0] | (src[1] << 8));
    uint8_t* q = qs + row * nb * q_bytes + b * q_bytes;
    for (int j = 0; j < q_bytes; ++j) q[j] = src[2 + j];
  }
}

// One thread per 8 consecutive elements: 16 bytes of f16 out.
__global__ void dequant_f16_kernel(bool q4, const uint8_t* qs, const uint16_t* d, int64_t cols, int64_t r0,
                                   int64_t n_rows, __half* out) {
  const int64_t nb = cols / 32, n8 = cols / 8;
  const int64_t n = n_rows * n8;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / n8, c8 = i % n8, row = r0 + r;
    const int64_t b = c8 / 4;
    const float scale = f16_bits_to_float(d[row * nb + b]);
    int q[8];
    if (!q4) {
      const uint2 v = *reinterpret_cast<const uint2*>(qs + row * cols + c8 * 8);
      for (int j = 0; j < 4; ++j) {
        q[j] = int(int8_t(v.x >> (8 * j)));
        q[4 + j] = int(int8_t(v.y >> (8 * j)));
      }
    } else {
      const int k = int(c8 % 4);  // elements 8k..8k+7 of the block
      const uint2 v = *reinterpret_cast<const uint2*>(qs + row * (cols / 2) + b * 16 + 8 * (k & 1));
      const int shift = k < 2 ? 0 : 4;
      for (int j = 0; j < 4; ++j) {
        q[j] = int((v.x >> (8 * j + shift)) & 15) - 8;
        q[4 + j] = int((v.y >> (8 * j + shift)) & 15) - 8;
      }
    }
    __align__(16) __half h[8];
    for (int j = 0; j < 8; ++j) h[j] = __float2half_rn(scale * float(q[j]));
    *reinterpret_cast<uint4*>(out + r * cols + c8 * 8) = *reinterpret_cast<const uint4*>(h);
  }
}

// One warp per 32-block of one token: quantize_row_q8_0's arithmetic.
__global__ void quantize_acts_kernel(const float* x, int n, int64_t cols, int8_t* xq, float* xd, int32_t* xs) {
  const int lane = threadIdx.x & 31;
  const int64_t nb = cols / 32;
  const int64_t n_blocks = int64_t(n) * nb;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t w = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32; w < n_blocks; w += warps) {
    const int64_t e = w * 32 + lane;  // == t * cols + b * 32 + lane
    const float v = x[e];
    const float amax = warp_max(fabsf(v));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const int q = int(roundf(v * id));
    xq[e] = int8_t(q);
    const int sum = warp_sum_int(q);
    if (lane == 0) {
      xd[w] = __half2float(__float2half_rn(d));
      xs[w] = sum;
    }
  }
}

// One warp per weight row, each lane one 32-block at a time; NT tokens at once
// so every weight byte is read once per call.
template <int NT, bool Q4>
__global__ void __launch_bounds__(128) matvec_quant_kernel(const uint8_t* qs, const uint16_t* d, int64_t rows,
                                                           int64_t cols, const int8_t* xq, const float* xd,
                                                           const int32_t* xs, float* y) {
  const int lane = threadIdx.x & 31;
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  const int64_t nb = cols / 32;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  for (int64_t b = lane; b < nb; b += 32) {
    const float dw = f16_bits_to_float(__ldg(d + row * nb + b));
    int w[8];
    if (!Q4) {
      const int4* wp = reinterpret_cast<const int4*>(qs + row * cols + b * 32);
      const int4 w0 = __ldg(wp), w1 = __ldg(wp + 1);
      w[0] = w0.x, w[1] = w0.y, w[2] = w0.z, w[3] = w0.w, w[4] = w1.x, w[5] = w1.y, w[6] = w1.z, w[7] = w1.w;
    } else {
      const int4 v = __ldg(reinterpret_cast<const int4*>(qs + row * (cols / 2) + b * 16));
      const int vv[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        w[k] = vv[k] & 0x0F0F0F0F;             // elements 4k..4k+3
        w[4 + k] = (vv[k] >> 4) & 0x0F0F0F0F;  // elements 16+4k..
      }
    }
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const int4* xp = reinterpret_cast<const int4*>(xq + t * cols + b * 32);
      const int4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
      int s = __dp4a(w[0], x0.x, 0);
      s = __dp4a(w[1], x0.y, s);
      s = __dp4a(w[2], x0.z, s);
      s = __dp4a(w[3], x0.w, s);
      s = __dp4a(w[4], x1.x, s);
      s = __dp4a(w[5], x1.y, s);
      s = __dp4a(w[6], x1.z, s);
      s = __dp4a(w[7], x1.w, s);
      if (Q4) s -= 8 * __ldg(xs + t * nb + b);
      acc[t] = fmaf(float(s), dw * __ldg(xd + t * nb + b), acc[t]);
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float v = warp_sum(acc[t]);
    if (lane == 0) y[t * rows + row] = v;
  }
}

template <bool Q4>
cudaError_t matvec_dispatch(const uint8_t* qs, const uint16_t* d, int64_t rows, int64_t cols, const int8_t* xq,
                            const float* xd, const int32_t* xs, int n, float* y, cudaStream_t stream) {
  const unsigned grid = unsigned((rows + 3) / 4);
  switch (n) {
#define LLMOS_MATVEC_CASE(N) \
  case N: matvec_quant_kernel<N, Q4><<<grid, 128, 0, stream>>>(qs, d, rows, cols, xq, xd, xs, y); break;
    LLMOS_MATVEC_CASE(1)
    LLMOS_MATVEC_CASE(2)
    LLMOS_MATVEC_CASE(3)
    LLMOS_MATVEC_CASE(4)
    LLMOS_MATVEC_CASE(5)
    LLMOS_MATVEC_CASE(6)
    LLMOS_MATVEC_CASE(7)
    LLMOS_MATVEC_CASE(8)
#undef LLMOS_MATVEC_CASE
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_repack_quant(DType type, const void* raw, int64_t r0, int64_t n_rows, int64_t total_rows,
                                int64_t cols, void* dst, cudaStream_t stream) {
  const int64_t n = n_rows * (cols / 32);
  if (n <= 0) return cudaSuccess;
  repack_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(type == DType::kQ4_0, static_cast<const uint8_t*>(raw),
                                                                r0, n_rows, total_rows, cols,
                                                                static_cast<uint8_t*>(dst));
  return cudaGetLastError();
}

cudaError_t launch_dequant_f16(const Weight& w, int64_t r0, int64_t n_rows, void* out, cudaStream_t stream) {
  const int64_t n = n_rows * (w.cols / 8);
  if (n <= 0) return cudaSuccess;
  const auto* qs = static_cast<const uint8_t*>(w.data);
  const auto* d = reinterpret_cast<const uint16_t*>(qs + quant_scales_offset(w.type, w.rows, w.cols));
  dequant_f16_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(w.type == DType::kQ4_0, qs, d, w.cols, r0,
                                                                     n_rows, static_cast<__half*>(out));
  return cudaGetLastError();
}

cudaError_t launch_quantize_acts(const float* x, int n, int64_t cols, int8_t* xq, float* xd, int32_t* xs,
                                 cudaStream_t stream) {
  const int64_t n_blocks = int64_t(n) * (cols / 32);
  if (n_blocks <= 0) return cudaSuccess;
  quantize_acts_kernel<<<grid_for(n_blocks * 32, kThreads), kThreads, 0, stream>>>(x, n, cols, xq, xd, xs);
  return cudaGetLastError();
}

cudaError_t launch_matvec_quant(const Weight& w, const int8_t* xq, const float* xd, const int32_t* xs, int n,
                                float* y, cudaStream_t stream) {
  if (n <= 0 || w.rows <= 0) return cudaSuccess;
  const auto* qs = static_cast<const uint8_t*>(w.data);
  const auto* d = reinterpret_cast<const uint16_t*>(qs + quant_scales_offset(w.type, w.rows, w.cols));
  const int64_t nb = w.cols / 32;
  // Up to 8 tokens per pass over the weight; more tokens take more passes.
  for (int t0 = 0; t0 < n; t0 += 8) {
    const int nt = n - t0 < 8 ? n - t0 : 8;
    const cudaError_t e =
        w.type == DType::kQ4_0
            ? matvec_dispatch<true>(qs, d, w.rows, w.cols, xq + t0 * w.cols, xd + t0 * nb, xs + t0 * nb, nt,
                                    y + t0 * w.rows, stream)
            : matvec_dispatch<false>(qs, d, w.rows, w.cols, xq + t0 * w.cols, xd + t0 * nb, xs + t0 * nb, nt,
                                     y + t0 * w.rows, stream);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace llmos::cuda
