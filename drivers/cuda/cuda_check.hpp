// Turning CUDA and cuBLAS return codes into Status values that say which call
// failed and why, and StickyError: the first error of the asynchronous ops,
// kept until it is reported. Host-side only; StickyError is not thread-safe
// (it belongs to one driver, used from one thread).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::cuda {

// ok for cudaSuccess; else "<call>: <cudaGetErrorString> (<cudaGetErrorName>)",
// unimplemented for "no device / no driver" codes, failed otherwise.
Status cuda_status(cudaError_t err, std::string_view call);
// ok for CUBLAS_STATUS_SUCCESS; else failed("<call>: <cublasGetStatusString>").
Status cublas_status(cublasStatus_t st, std::string_view call);

// Returns the Status of a failed CUDA runtime call from the enclosing function.
#define LLMOS_CUDA_RETURN_IF_ERROR(call) \
  LLMOS_RETURN_IF_ERROR(::llmos::cuda::cuda_status((call), #call))
#define LLMOS_CUBLAS_RETURN_IF_ERROR(call) \
  LLMOS_RETURN_IF_ERROR(::llmos::cuda::cublas_status((call), #call))

class StickyError {
 public:
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Keeps `s` when it is the first error; returns s.ok().
  bool record(const Status& s) {
    if (!s.ok() && status_.ok()) status_ = s;
    return s.ok();
  }
  bool cuda(cudaError_t err, std::string_view call) { return err == cudaSuccess || record(cuda_status(err, call)); }
  bool cublas(cublasStatus_t st, std::string_view call) {
    return st == CUBLAS_STATUS_SUCCESS || record(cublas_status(st, call));
  }

 private:
  Status status_;
};

}  // namespace llmos::cuda
