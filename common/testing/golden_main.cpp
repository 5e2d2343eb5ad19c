// main() for tests that read ../shared: reports the test as skipped (exit 77,
// which ctest shows as "Skipped") when the folder is absent, or when every
// case that ran skipped (skip.hpp), else runs doctest.
#include <cstdio>

#include "shared_dir.hpp"
#include "skip.hpp"

int main(int argc, char** argv) {
  if (llmos::testing::shared_dir().empty()) {
    std::printf("SKIPPED: ../shared (models and llama.cpp reference outputs) not found; "
                "set LLMOS_SHARED_DIR to run this test\n");
    return 77;
  }
  return llmos::testing::run_tests(argc, argv);
}
