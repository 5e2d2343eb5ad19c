// The block types beyond Q8_0/Q4_0 on the device: kept in their GGUF layout
// (no re-layout at upload) and dequantized to f16 row tiles for cuBLAS.
#include <cuda_fp16.h>

#include "kernels.hpp"
#include "quant_ext_device.cuh"

namespace llmos::cuda {
namespace {

constexpr int kThreads = 256;

// One thread per element of the tile.
__global__ void dequant_ext_f16_kernel(int type, const uint8_t* data, int64_t row_bytes, int64_t cols, int64_t r0,
                                       int64_t n_rows, __half* out) {
  const int64_t n = n_rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    out[i] = __float2half_rn(ext_dequant(type, data + (r0 + r) * row_bytes, c));
  }
}

}  // namespace

cudaError_t launch_dequant_ext_f16(const Weight& w, int64_t r0, int64_t n_rows, void* out, cudaStream_t stream) {
  const int64_t n = n_rows * w.cols;
  if (n <= 0) return cudaSuccess;
  dequant_ext_f16_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(
      int(w.type), static_cast<const uint8_t*>(w.data), dtype_row_bytes(w.type, w.cols), w.cols, r0, n_rows,
      static_cast<__half*>(out));
  return cudaGetLastError();
}

}  // namespace llmos::cuda
