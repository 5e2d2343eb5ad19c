// llmos-cuda-bench: the CUDA driver's kernel benchmarks (see cuda_bench.hpp).
#include "llmos/driver/cuda_bench.hpp"

int main(int argc, char** argv) { return llmos::cuda::run_cuda_bench(argc, argv); }
