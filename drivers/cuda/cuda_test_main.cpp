// main() of llmos_driver_cuda_test: "SKIPPED: no CUDA device" and exit 77
// (ctest: skipped, never passed) without a GPU; otherwise doctest. With
// --ipc-child it is the child process of the CUDA IPC test (arena_test.cpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "llmos/driver/cuda_driver.hpp"

namespace llmos::cuda::testing {
int ipc_child_main(int argc, char** argv);
}

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--ipc-child") == 0) return llmos::cuda::testing::ipc_child_main(argc, argv);
  if (!llmos::driver::cuda_device_available()) {
    auto d = llmos::driver::make_cuda_driver({});
    std::string why = d.ok() ? "?" : d.status().message();
    if (why.rfind("no CUDA device: ", 0) == 0) why = why.substr(16);
    std::printf("SKIPPED: no CUDA device (%s)\n", why.c_str());
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
