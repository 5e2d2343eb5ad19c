#include "llmos/engine/kv_block_pool.hpp"

#include <doctest/doctest.h>

#include <set>

namespace llmos::engine {
namespace {

TEST_CASE("the block pool hands out each block once and takes it back") {
  KvBlockPool pool(4);
  std::set<int32_t> got;
  for (int i = 0; i < 4; ++i) {
    auto b = pool.allocate();
    REQUIRE(b.has_value());
    CHECK(got.insert(*b).second);
  }
  CHECK(pool.n_free() == 0);
  CHECK_FALSE(pool.allocate().has_value());
  pool.release(2);
  CHECK(pool.n_free() == 1);
  CHECK(pool.allocate() == std::optional<int32_t>(2));
}

TEST_CASE("a block table maps positions through its blocks") {
  KvBlockPool pool(8);
  BlockTable a(16), b(16);
  REQUIRE(a.reserve(pool, 1));   // 1 block
  REQUIRE(b.reserve(pool, 20));  // 2 blocks
  REQUIRE(a.reserve(pool, 17));  // a grows to 2 blocks, interleaved with b's
  CHECK(a.capacity() == 32);
  CHECK(b.capacity() == 32);
  const int32_t a1 = a.blocks()[1];
  CHECK(a.slot(0) == a.blocks()[0] * 16);
  CHECK(a.slot(16) == a1 * 16);
  CHECK(a.slot(21) == a1 * 16 + 5);
  CHECK(pool.n_used() == 4);
  a.release_all(pool);
  CHECK(pool.n_used() == 2);
  CHECK(a.capacity() == 0);
}

TEST_CASE("reserve reports an exhausted pool and keeps what it has") {
  KvBlockPool pool(2);
  BlockTable t(16);
  CHECK_FALSE(t.reserve(pool, 48));
  CHECK(t.capacity() == 32);
  CHECK(pool.n_free() == 0);
  t.release_all(pool);
  CHECK(pool.n_free() == 2);
}

}  // namespace
}  // namespace llmos::engine
