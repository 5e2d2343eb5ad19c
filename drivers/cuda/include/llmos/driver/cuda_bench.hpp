// Benchmarks of the CUDA driver's kernels on the GPU: the decode attention
// kernel's achieved memory bandwidth against the device's peak (from its memory
// clock and bus width), and the matmul paths. Each call builds and frees its own
// driver and buffers; run one at a time. In the llmos_driver_cuda_bench library.
#pragma once

namespace llmos::cuda {

// `llmos-cuda-bench [attention|matmul|all] [--device N] [--quick]`: prints a
// table to stdout; returns the process exit code (1 when there is no device,
// 2 on a bad argument).
int run_cuda_bench(int argc, char** argv);

}  // namespace llmos::cuda
