#include "llmos/ipc/kv_arena.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace llmos::ipc {
namespace {

bool shm_exists(const std::string& name) {
  int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

KvGeometry small_layout() {
  KvGeometry l;
  l.n_layers = 2;
  l.n_blocks = 4;
  l.block_size = 16;
  l.n_kv_heads = 2;
  l.head_dim = 8;
  return l;
}

TEST_CASE("the kernel creates an arena, a service maps it, and it is gone when the owner dies") {
  const std::string name = kv_arena_name("/tmp/llmos-arena-test-" + std::to_string(::getpid()), "m");
  CHECK(name.find("-m") == name.size() - 2);
  {
    auto owner = KvArenaOwner::create(name, small_layout());
    REQUIRE_MESSAGE(owner.ok(), owner.status().to_string());
    CHECK(owner->bytes() == kv_arena_data_offset(small_layout()) + small_layout().bytes());
    CHECK(kv_arena_data_offset(small_layout()) == 2 * 4096);  // header, then a table of 4 slots
    {
      auto a = KvArenaMapping::map(name, small_layout());
      REQUIRE_MESSAGE(a.ok(), a.status().to_string());
      std::memset(a->kv_data(), 0x5a, small_layout().bytes());
      CHECK(a->header().attach_count == 1);
    }
    // A second mapping (a restarted service) sees the same memory.
    auto b = KvArenaMapping::map(name, small_layout());
    REQUIRE(b.ok());
    CHECK(static_cast<unsigned char*>(b->kv_data())[100] == 0x5a);
    CHECK(b->header().attach_count == 2);

    KvGeometry other = small_layout();
    other.n_blocks = 8;
    auto bad = KvArenaMapping::map(name, other);
    CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
    other = small_layout();
    other.head_dim = 4;
    other.n_kv_heads = 4;  // same size, different shape
    bad = KvArenaMapping::map(name, other);
    CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
    CHECK(bad.status().message().find("holds") != std::string::npos);
  }
  CHECK(!shm_exists(name));
  CHECK(!KvArenaMapping::map(name, small_layout()).ok());
}

TEST_CASE("stale arenas of one runtime dir are removed, those of another stay") {
  const std::string dir_a = "/tmp/llmos-arena-a-" + std::to_string(::getpid());
  const std::string dir_b = "/tmp/llmos-arena-b-" + std::to_string(::getpid());
  auto a = KvArenaOwner::create(kv_arena_name(dir_a, "x"), small_layout());
  auto b = KvArenaOwner::create(kv_arena_name(dir_b, "x"), small_layout());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(remove_stale_kv_arenas(dir_a) == 1);
  CHECK(!shm_exists(kv_arena_name(dir_a, "x")));
  CHECK(shm_exists(kv_arena_name(dir_b, "x")));
}

}  // namespace
}  // namespace llmos::ipc
