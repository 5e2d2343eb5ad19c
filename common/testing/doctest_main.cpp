// The main() every doctest executable links; see cmake/LlmosTest.cmake.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
