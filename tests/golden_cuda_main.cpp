// main() of llmos_golden_generate_cuda_test: exit 77 (skipped) without a CUDA
// device or without ../shared; otherwise doctest.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "llmos/driver/cuda_driver.hpp"
#include "shared_dir.hpp"

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
  doctest::Context context(argc, argv);
  return context.run();
}
