#include "cuda_check.hpp"

namespace llmos::cuda {

Status cuda_status(cudaError_t err, std::string_view call) {
  if (err == cudaSuccess) return ok_status();
  std::string m(call);
  m += ": ";
  m += cudaGetErrorString(err);
  m += " (";
  m += cudaGetErrorName(err);
  m += ")";
  switch (err) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorNotSupported:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorNoKernelImageForDevice:
      return unimplemented(std::move(m));
    default:
      return failed(std::move(m));
  }
}

Status cublas_status(cublasStatus_t st, std::string_view call) {
  if (st == CUBLAS_STATUS_SUCCESS) return ok_status();
  std::string m(call);
  m += ": ";
  m += cublasGetStatusString(st);
  return st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH ? unimplemented(std::move(m))
                                                                                : failed(std::move(m));
}

}  // namespace llmos::cuda
