// CudaDriverImpl, part 2: weight upload (F32/F16/BF16 as they are; Q8_0/Q4_0
// re-laid out, still quantized) and matmul: cuBLAS for float weights; for
// quantized ones the dp4a matrix-vector kernels up to quant_matvec_max_tokens
// tokens, else row tiles dequantized to f16 feeding cuBLAS (also how a
// quantized tensor's row range, such as one expert, is multiplied).
#include <algorithm>
#include <cstring>
#include <string>

#include "cuda_driver_impl.hpp"

namespace llmos::cuda {
namespace {

constexpr size_t kUploadChunkBytes = size_t(32) << 20;  // raw quantized rows per upload copy
constexpr int64_t kTileElems = int64_t(16) << 20;       // f16 elements of one dequantized tile (32 MiB)

bool is_quantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }

cudaDataType cuda_type(DType t) {
  switch (t) {
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

std::string describe(const Weight& w) {
  return std::string(dtype_name(w.type)) + " [" + std::to_string(w.rows) + " x " + std::to_string(w.cols) + "]";
}

}  // namespace

Result<Weight> CudaDriverImpl::upload_weight(const Weight& host) {
  if (!err_.ok() || !use_device()) return err_.status();
  const DType t = host.type;
  if (t != DType::kF32 && t != DType::kF16 && t != DType::kBF16 && !is_quantized(t) && !is_ext_quant(t)) {
    return unimplemented("cuda upload_weight: weight type " + std::string(dtype_name(t)) + " is not supported");
  }
  if (host.rows < 0 || host.cols < 0 || host.rows > INT32_MAX || host.cols > INT32_MAX) {
    return invalid_argument("cuda upload_weight: bad shape " + describe(host));
  }
  if (dtype_is_quantized(t) && host.cols % dtype_block_elems(t) != 0) {
    return invalid_argument("cuda upload_weight: " + describe(host) + " rows are not whole " +
                            std::to_string(dtype_block_elems(t)) + "-element blocks");
  }
  const size_t bytes = size_t(device_weight_bytes(t, host.rows, host.cols));
  auto span = allocate_from(opts_.weight_arena, pool_, std::max<size_t>(bytes, 1));
  if (!span.ok()) {
    return Status(span.status().code(),
                  "cuda upload_weight " + describe(host) + ": " + span.status().message());
  }
  Weight dev = host;
  dev.data = span->ptr();
  if (opts_.weights_resident) {
    LLMOS_RETURN_IF_ERROR(check_resident(host, dev.data));
  } else if (bytes > 0) {
    if (is_quantized(t)) {
      LLMOS_RETURN_IF_ERROR(upload_quantized(host, span->ptr()));
    } else {
      LLMOS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(span->ptr(), host.data, bytes, cudaMemcpyHostToDevice, stream_.s));
    }
    LLMOS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.s));
  }
  if (dtype_is_quantized(t) && host.rows > 0 && host.cols > 0) {
    // Size the dequantization tile now so prefill allocates nothing.
    const int64_t tile_rows = std::clamp<int64_t>(kTileElems / host.cols, 1, host.rows);
    wtile_elems_ = std::max(wtile_elems_, tile_rows * host.cols);
    LLMOS_RETURN_IF_ERROR(wtile_.ensure(pool_, stream_.s, size_t(wtile_elems_) * 2));
  }
  weights_.push_back(std::move(*span));
  return dev;
}

Status CudaDriverImpl::upload_quantized(const Weight& host, void* dst) {
  const size_t row_bytes = size_t(dtype_row_bytes(host.type, host.cols));
  const int64_t chunk_rows = std::max<int64_t>(1, int64_t(kUploadChunkBytes / row_bytes));
  const int64_t rows_per_copy = std::min(chunk_rows, host.rows);
  LLMOS_RETURN_IF_ERROR(upload_.ensure(pool_, stream_.s, size_t(rows_per_copy) * row_bytes));
  const auto* src = static_cast<const uint8_t*>(host.data);
  for (int64_t r0 = 0; r0 < host.rows; r0 += rows_per_copy) {
    const int64_t n = std::min(rows_per_copy, host.rows - r0);
    // Same stream: this copy waits for the previous chunk's re-layout.
    LLMOS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(upload_.data(), src + size_t(r0) * row_bytes, size_t(n) * row_bytes,
                                               cudaMemcpyHostToDevice, stream_.s));
    LLMOS_RETURN_IF_ERROR(cuda_status(
        launch_repack_quant(host.type, upload_.data(), r0, n, host.rows, host.cols, dst, stream_.s),
        "quantized weight re-layout kernel"));
  }
  return ok_status();
}

// The first bytes of the weight in the arena must be what this process would
// have uploaded: a cheap guard against attaching to someone else's layout.
Status CudaDriverImpl::check_resident(const Weight& host, const void* dst) {
  if (host.rows == 0 || host.cols == 0) return ok_status();
  uint8_t want[64], got[64];
  size_t n = 0;
  const auto* h = static_cast<const uint8_t*>(host.data);
  if (host.type == DType::kQ8_0) {
    n = 32;
    std::memcpy(want, h + 2, n);  // block 0's qs (after its f16 scale)
  } else if (host.type == DType::kQ4_0) {
    n = 16;
    std::memcpy(want, h + 2, n);
  } else {
    n = std::min<size_t>(64, size_t(dtype_row_bytes(host.type, host.cols)) * size_t(host.rows));
    std::memcpy(want, h, n);
  }
  LLMOS_CUDA_RETURN_IF_ERROR(cudaMemcpy(got, dst, n, cudaMemcpyDeviceToHost));
  if (std::memcmp(want, got, n) != 0) {
    return failed("weight arena: the " + describe(host) + " weight at arena offset " +
                  std::to_string(static_cast<const uint8_t*>(dst) - opts_.weight_arena->base()) +
                  " does not hold this model's data; upload and attach must bind the same tensors in the same order");
  }
  return ok_status();
}

void CudaDriverImpl::gemm(const void* a, cudaDataType a_type, const void* x, cudaDataType x_type, int64_t rows,
                          int64_t cols, int n, float* y, int64_t ldy) {
  // Row-major W [rows][cols] is column-major W^T, so y^T (column-major [rows][n])
  // = op_T(W^T) x^T with x^T column-major [cols][n].
  const float alpha = 1.0f, beta = 0.0f;
  err_.cublas(cublasGemmEx(blas_.h, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), n, int(cols), &alpha, a, a_type, int(cols),
                           x, x_type, int(cols), &beta, y, CUDA_R_32F, int(ldy), CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT),
              "cublasGemmEx");
}

void CudaDriverImpl::matmul(const Weight& w, const float* x, float* y, int n) {
  LLMOS_REQUIRE(n >= 0, "negative token count");
  if (!err_.ok() || n == 0 || w.rows == 0) return;
  const size_t nx = size_t(n) * size_t(w.cols);
  switch (w.type) {
    case DType::kF32:
      gemm(w.data, CUDA_R_32F, x, CUDA_R_32F, w.rows, w.cols, n, y, w.rows);
      return;
    case DType::kF16:
    case DType::kBF16:
      if (!err_.record(act16_.ensure(pool_, stream_.s, nx * 2))) return;
      if (!launched(launch_convert_f32(x, act16_.data(), w.type, int64_t(nx), stream_.s), "f32->f16 kernel")) return;
      gemm(w.data, cuda_type(w.type), act16_.data(), cuda_type(w.type), w.rows, w.cols, n, y, w.rows);
      return;
    case DType::kQ8_0:
    case DType::kQ4_0:
      break;
    default:
      LLMOS_REQUIRE(is_ext_quant(w.type), "unsupported weight type");
  }
  LLMOS_REQUIRE(w.cols % dtype_block_elems(w.type) == 0, "quantized weight columns not whole blocks");
  if (is_quantized(w.type) && n <= opts_.quant_matvec_max_tokens) {
    const size_t nb = nx / kQuantBlock;
    const size_t qs_bytes = (nx + 255) / 256 * 256;
    const size_t d_bytes = (nb * 4 + 255) / 256 * 256;
    if (!err_.record(actq_.ensure(pool_, stream_.s, qs_bytes + 2 * d_bytes))) return;
    auto* xq = actq_.as<int8_t>();
    auto* xd = reinterpret_cast<float*>(actq_.as<uint8_t>() + qs_bytes);
    auto* xs = reinterpret_cast<int32_t*>(actq_.as<uint8_t>() + qs_bytes + d_bytes);
    if (!launched(launch_quantize_acts(x, n, w.cols, xq, xd, xs, stream_.s), "activation quantization kernel")) return;
    launched(launch_matvec_quant(w, xq, xd, xs, n, y, stream_.s), "quantized matvec kernel");
    return;
  }
  matmul_dequant(w, 0, w.rows, x, y, n);
}

void CudaDriverImpl::matmul_dequant(const Weight& w, int64_t row0, int64_t rows, const float* x, float* y, int n) {
  LLMOS_REQUIRE(row0 >= 0 && rows >= 0 && row0 + rows <= w.rows, "rows past the weight");
  if (!err_.ok() || n == 0 || rows == 0) return;
  const size_t nx = size_t(n) * size_t(w.cols);
  if (!err_.record(act16_.ensure(pool_, stream_.s, nx * 2))) return;
  if (!launched(launch_convert_f32(x, act16_.data(), DType::kF16, int64_t(nx), stream_.s), "f32->f16 kernel")) return;
  const int64_t tile_rows = std::clamp<int64_t>(kTileElems / w.cols, 1, rows);
  if (!err_.record(wtile_.ensure(pool_, stream_.s, size_t(tile_rows * w.cols) * 2))) return;
  for (int64_t r = 0; r < rows; r += tile_rows) {
    const int64_t tr = std::min(tile_rows, rows - r);
    const cudaError_t dq = is_ext_quant(w.type) ? launch_dequant_ext_f16(w, row0 + r, tr, wtile_.data(), stream_.s)
                                                : launch_dequant_f16(w, row0 + r, tr, wtile_.data(), stream_.s);
    if (!launched(dq, "dequantize-to-f16 kernel")) return;
    gemm(wtile_.data(), CUDA_R_16F, act16_.data(), CUDA_R_16F, tr, w.cols, n, y + r, rows);
    if (!err_.ok()) return;
  }
}

void CudaDriverImpl::matmul_rows(const Weight& w, int64_t row0, int64_t rows, const float* x, float* y, int n) {
  if (dtype_is_quantized(w.type)) {
    matmul_dequant(w, row0, rows, x, y, n);
    return;
  }
  const size_t row_bytes = size_t(dtype_row_bytes(w.type, w.cols));
  matmul(Weight{w.type, static_cast<const uint8_t*>(w.data) + size_t(row0) * row_bytes, rows, w.cols}, x, y, n);
}

}  // namespace llmos::cuda
