// The command line's byte sizes and progress bars, at their edges.
#include "llmos/common/progress_text.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

namespace llmos {
namespace {

TEST_CASE("format_bytes: bytes below a KiB, then one decimal in powers of 1024") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(12) == "12 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1024) == "1.0 KiB");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(uint64_t(40) << 20) == "40.0 MiB");
  CHECK(format_bytes(uint64_t(3) << 30) == "3.0 GiB");
  CHECK(format_bytes(uint64_t(5) << 40) == "5.0 TiB");
  CHECK(format_bytes(uint64_t(2048) << 40) == "2048.0 TiB");  // TiB is the last unit
  CHECK(format_bytes(UINT64_MAX) == "16777216.0 TiB");
}

TEST_CASE("format_bytes_exact: the count, and the short form from a KiB on") {
  CHECK(format_bytes_exact(0) == "0 bytes");
  CHECK(format_bytes_exact(1023) == "1023 bytes");
  CHECK(format_bytes_exact(1536) == "1536 bytes (1.5 KiB)");
  CHECK(format_bytes_exact(1468416) == "1468416 bytes (1.4 MiB)");
}

TEST_CASE("progress_bar: the done part in '#', clamped, of the width asked") {
  CHECK(progress_bar(0.0, 10) == "..........");
  CHECK(progress_bar(0.45, 10) == "####......");
  CHECK(progress_bar(1.0, 4) == "####");
  CHECK(progress_bar(2.5, 4) == "####");
  CHECK(progress_bar(-1.0, 4) == "....");
  CHECK(progress_bar(std::nan(""), 4) == "....");
  CHECK(progress_bar(0.5, 0).empty());
  CHECK(progress_bar(0.5, -3).empty());
}

}  // namespace
}  // namespace llmos
