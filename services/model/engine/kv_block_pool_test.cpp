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

TEST_CASE("release_before gives back the blocks wholly before a position and keeps the rest") {
  KvBlockPool pool(8);
  BlockTable t(4);
  REQUIRE(t.reserve(pool, 14));  // 4 blocks
  const int32_t b2 = t.blocks()[2];
  CHECK(t.release_before(pool, 7) == 1);  // block 1 still holds position 7
  CHECK(t.blocks()[0] == -1);
  CHECK(t.n_held() == 3);
  CHECK(pool.n_used() == 3);
  CHECK(t.release_before(pool, 9) == 1);
  CHECK(t.release_before(pool, 9) == 0);  // nothing more before 9
  CHECK(t.slot(9) == b2 * 4 + 1);
  CHECK(t.capacity() == 16);  // positions keep their numbering
  REQUIRE(t.reserve(pool, 20));
  CHECK(t.n_held() == 3);
  CHECK(t.release_before(pool, 100) == 3);  // never past the table's end
  t.release_all(pool);
  CHECK(pool.n_used() == 0);
}

}  // namespace
}  // namespace llmos::engine
