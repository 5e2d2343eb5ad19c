// Benchmarks of the CPU driver: host memory read bandwidth (the roofline of a
// decode step) and matmul kernel throughput. Each call builds and frees its own
// buffers and threads; run one at a time (they measure the whole machine).
#pragma once

namespace llmos::cpu {

// Best of a few sum-reductions over a 1 GiB buffer (far larger than the caches)
// with a pool of `threads` threads (<= 0: one per core), in GB/s (1e9 bytes/s).
// In the llmos_driver_cpu library.
double measure_read_bandwidth_gbs(int threads);

// `llmos-bench kernels [--threads N] [--isa scalar|avx2|avx512|avx512-novnni|amx]
// [--quick] [--cpu-time] [--model 110m|1.1b]`: matmul GB/s and GFLOP/s per weight type at n = 1 and n = 64 for
// the 32000x768 and 5632x2048 shapes (plus n = 1 with the weights cold in
// DRAM), after the read bandwidth; with --model, a Llama-shaped forward pass
// (stories110M q8_0, TinyLlama 1.1B q4_0; synthetic weights): pp512 and tg128
// tok/s. --cpu-time divides by process CPU seconds instead of wall seconds: with
// --threads 1, a per-core figure that other load on the machine does not skew.
// Prints to stdout; returns the process exit code. In the
// llmos_driver_cpu_bench library.
int run_kernel_bench(int argc, char** argv);

}  // namespace llmos::cpu
