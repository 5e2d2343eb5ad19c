// llmos-cpu-kernel-bench: run_kernel_bench as a standalone program, for
// working on the CPU kernels without the rest of llmos-bench.
#include "llmos/driver/cpu_bench.hpp"

int main(int argc, char** argv) { return llmos::cpu::run_kernel_bench(argc, argv); }
