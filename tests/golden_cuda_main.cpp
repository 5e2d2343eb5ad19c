// main() of llmos_golden_generate_cuda_test: exit 77 (skipped) without a CUDA
// device or without ../shared, or when every case that ran skipped (skip.hpp);
// otherwise doctest.
#include <cstdio>

#include "llmos/driver/cuda_driver.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

int main(int argc, char** argv) {
  if (!llmos::driver::cuda_device_available()) {
    std::printf("SKIPPED: no CUDA device\n");
    return 77;
  }
  if (llmos::testing::shared_dir().empty()) {
    std::printf("SKIPPED: ../shared (models and llama.cpp reference outputs) not found; "
                "set LLMOS_SHARED_DIR to run this test\n");
    return 77;
  }
  return llmos::testing::run_tests(argc, argv);
}
