#include "llmos/client/system.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

namespace llmos::client {
namespace {

TEST_CASE("byte counts parse with binary units and refuse junk") {
  CHECK(*parse_bytes("1000000") == 1000000u);
  CHECK(*parse_bytes("512K") == 512u << 10);
  CHECK(*parse_bytes("64m") == 64u << 20);
  CHECK(*parse_bytes("8GiB") == 8ull << 30);
  CHECK(*parse_bytes("2GB") == 2ull << 30);
  CHECK(parse_bytes("").status().code() == ErrorCode::kInvalidArgument);
  CHECK(parse_bytes("G").status().code() == ErrorCode::kInvalidArgument);
  CHECK(parse_bytes("12X").status().code() == ErrorCode::kInvalidArgument);
  CHECK(parse_bytes("99999999999999999999").status().code() == ErrorCode::kInvalidArgument);
  CHECK(parse_bytes("20000000T").status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("no kernel runs in a fresh directory, and down there is a no-op") {
  auto dir = std::filesystem::temp_directory_path() / ("llmos-client-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  CHECK_FALSE(running_kernel_pid(dir).has_value());
  auto down = stop_system(dir);
  REQUIRE(down.ok());
  CHECK_FALSE(down->was_running);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace llmos::client
