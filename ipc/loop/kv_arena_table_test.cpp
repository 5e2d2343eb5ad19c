#include "llmos/ipc/kv_arena_table.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <numeric>

namespace llmos::ipc {
namespace {

KvGeometry layout() {
  KvGeometry l;
  l.n_layers = 2;
  l.n_blocks = 8;
  l.block_size = 4;
  l.n_kv_heads = 1;
  l.head_dim = 8;
  return l;
}

struct Arena {
  std::string name = kv_arena_name("/tmp/llmos-table-test-" + std::to_string(::getpid()), "m");
  KvArenaOwner owner = std::move(KvArenaOwner::create(name, layout())).value();
  KvArenaMapping map() { return std::move(KvArenaMapping::map(name, layout())).value(); }
};

std::vector<int32_t> iota(int n, int32_t from) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}

// The raw slot `i` of a mapping (docs/microkernel.md: a 64-byte header, seq first).
char* raw_slot(KvArenaMapping& m, uint32_t i) {
  return static_cast<char*>(m.table()) + uint64_t{i} * kv_table_geometry(layout()).slot_bytes;
}

TEST_CASE("what one mapping writes into the sequence table, a second mapping reads") {
  Arena arena;
  CHECK(kv_table_geometry(layout()).slots == 8);
  auto first = arena.map();
  KvSequenceTable writer(first.table(), layout());
  CHECK(writer.recover().entries.empty());  // a new arena is all zeros: empty
  const auto tokens = iota(9, 100);
  REQUIRE(writer.put(7, std::span(tokens).first(5), std::vector<int32_t>{3, 5}));
  REQUIRE(writer.put(7, tokens, std::vector<int32_t>{3, 5, 0}));  // grows: appends only
  REQUIRE(writer.put(9, iota(2, 1), std::vector<int32_t>{6}));
  REQUIRE(writer.put(11, iota(1, 1), std::vector<int32_t>{7}));
  writer.erase(11);

  auto second = arena.map();  // a replacement service
  KvSequenceTable reader(second.table(), layout());
  auto got = reader.recover();
  CHECK(got.torn == 0);
  CHECK(got.corrupt == 0);
  REQUIRE(got.entries.size() == 2);
  CHECK(got.entries[0].request_id == 7);
  CHECK(got.entries[0].tokens == tokens);
  CHECK(got.entries[0].blocks == std::vector<int32_t>{3, 5, 0});
  CHECK(got.entries[1].request_id == 9);
  CHECK(got.entries[1].blocks == std::vector<int32_t>{6});

  // The replacement continues request 7 where the dead one left it.
  const auto more = iota(13, 100);
  REQUIRE(reader.put(7, more, std::vector<int32_t>{3, 5, 0, 1}));
  reader.erase(9);
  auto again = KvSequenceTable(first.table(), layout()).read();
  REQUIRE(again.entries.size() == 1);
  CHECK(again.entries[0].tokens == more);
  // A shorter record rewrites the slot (a request adopted with fewer tokens).
  REQUIRE(reader.put(7, iota(3, 100), std::vector<int32_t>{3}));
  again = KvSequenceTable(first.table(), layout()).read();
  REQUIRE(again.entries.size() == 1);
  CHECK(again.entries[0].tokens == iota(3, 100));
  CHECK(again.entries[0].blocks == std::vector<int32_t>{3});
}

TEST_CASE("a slot torn by a crash or corrupted reads as absent, and recovery clears it") {
  Arena arena;
  auto m = arena.map();
  KvSequenceTable writer(m.table(), layout());
  REQUIRE(writer.put(1, iota(4, 10), std::vector<int32_t>{0}));
  REQUIRE(writer.put(2, iota(4, 20), std::vector<int32_t>{1}));
  REQUIRE(writer.put(3, iota(4, 30), std::vector<int32_t>{2}));
  REQUIRE(writer.put(4, iota(4, 40), std::vector<int32_t>{2}));  // block 2 twice: the engine rejects that

  // Slot 0: the writer died between marking it (odd) and finishing it.
  uint64_t seq;
  std::memcpy(&seq, raw_slot(m, 0), 8);
  seq |= 1;
  std::memcpy(raw_slot(m, 0), &seq, 8);
  // Slot 1: a token changed behind the checksum's back.
  int32_t token = 99;
  std::memcpy(raw_slot(m, 1) + 64 + 4, &token, 4);
  // Slot 2: intact.

  auto m2 = arena.map();
  KvSequenceTable reader(m2.table(), layout());
  auto got = reader.read();
  CHECK(got.torn == 1);
  CHECK(got.corrupt == 1);
  REQUIRE(got.entries.size() == 2);
  CHECK(got.entries[0].request_id == 3);
  CHECK(got.entries[1].request_id == 4);
  got = reader.recover();
  CHECK(got.entries.size() == 2);
  got = KvSequenceTable(m.table(), layout()).read();  // cleared: nothing torn or corrupt is left
  CHECK(got.torn == 0);
  CHECK(got.corrupt == 0);
  CHECK(got.entries.size() == 2);
  // The cleared slots are free again.
  for (uint64_t id = 10; id < 16; ++id) CHECK(reader.put(id, iota(1, 1), std::vector<int32_t>{int32_t(id - 10)}));
  CHECK_FALSE(reader.put(16, iota(1, 1), std::vector<int32_t>{7}));  // all 8 slots taken
}

TEST_CASE("entries that cannot be right are refused when written or ignored when read") {
  Arena arena;
  auto m = arena.map();
  KvSequenceTable t(m.table(), layout());
  CHECK_FALSE(t.put(0, iota(1, 1), std::vector<int32_t>{0}));          // id 0 means free
  CHECK_FALSE(t.put(1, iota(33, 1), std::vector<int32_t>{0}));         // more tokens than the arena holds
  REQUIRE(t.put(5, iota(4, 1), std::vector<int32_t>{0, 1}));          // 2 blocks for 4 tokens of 4 per block
  REQUIRE(t.put(6, iota(4, 1), std::vector<int32_t>{8}));             // block outside the arena
  auto got = KvSequenceTable(m.table(), layout()).read();
  CHECK(got.entries.empty());
  CHECK(got.corrupt == 2);
}

}  // namespace
}  // namespace llmos::ipc
