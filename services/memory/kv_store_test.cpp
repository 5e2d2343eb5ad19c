#include "kv_store.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <vector>

namespace llmos::memory {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("llmos-kvstore-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::vector<uint8_t> bytes(size_t n, uint8_t v) { return std::vector<uint8_t>(n, v); }

TEST_CASE("swapped-out KV is kept within the cap and given back once when released") {
  KvStore store(1000, {});
  CHECK(store.put_swap(1, bytes(600, 1)).ok());
  Status st = store.put_swap(2, bytes(600, 2));
  CHECK(st.code() == ErrorCode::kOverloaded);
  CHECK(st.message().find("1000-byte cap") != std::string::npos);
  auto got = store.get_swap(1, /*release=*/true);
  REQUIRE(got.ok());
  CHECK(*got == bytes(600, 1));
  CHECK(store.used_bytes() == 0);
  CHECK(store.get_swap(1, false).status().code() == ErrorCode::kNotFound);
  CHECK(store.put_swap(2, bytes(600, 2)).ok());
}

TEST_CASE("saved sessions survive a restart of the store through their folder") {
  TempDir dir;
  {
    KvStore store(1 << 20, dir.path);
    CHECK(store.put_session("chat-1", bytes(64, 7), "stories", 12).ok());
    CHECK(store.put_session("bad name", bytes(8, 1), "m", 1).code() == ErrorCode::kInvalidArgument);
    CHECK(store.put_session("chat-1", bytes(32, 8), "stories", 20).ok());  // replaces
    CHECK(store.used_bytes() == 32);
  }
  KvStore again(1 << 20, dir.path);
  auto list = again.sessions();
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "chat-1");
  CHECK(list[0].model == "stories");
  CHECK(list[0].tokens == 20);
  auto got = again.get_session("chat-1");
  REQUIRE(got.ok());
  CHECK(*got == bytes(32, 8));
  CHECK(again.delete_session("chat-1").ok());
  CHECK(again.get_session("chat-1").status().code() == ErrorCode::kNotFound);
  KvStore third(1 << 20, dir.path);
  CHECK(third.sessions().empty());
}

}  // namespace
}  // namespace llmos::memory
