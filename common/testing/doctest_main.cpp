// The main() every doctest executable links; see cmake/LlmosTest.cmake.
// Exits 77 (ctest: Skipped) when every case that ran skipped (skip.hpp).
#include "skip.hpp"

int main(int argc, char** argv) { return llmos::testing::run_tests(argc, argv); }
