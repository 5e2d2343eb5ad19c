// The KV geometry's wire forms: a block's shape (memory service) and an
// arena's block counts and window layers (model service), both ways.
#include "llmos/ipc/domain_wire.hpp"

#include <capnp/message.h>
#include <doctest/doctest.h>

#include <string>

namespace llmos::ipc {
namespace {

// gemma3-like: layers 0-4 window layers (3 blocks), layer 5 global (32 blocks).
KvGeometry split() {
  KvGeometry g;
  g.n_layers = 6;
  g.n_blocks = 32;
  g.n_kv_heads = 1;
  g.head_dim = 64;
  g.n_window_blocks = 24;
  for (int l = 0; l < 5; ++l) g.set_window_layer(l);
  return g;
}

TEST_CASE("an arena's geometry crosses the wire with its window layers and their blocks") {
  capnp::MallocMessageBuilder mb;
  auto arena = mb.initRoot<wire::KvArena>();
  to_wire(split(), arena);
  CHECK(arena.getNumBlocks() == 32);
  CHECK(arena.getNumWindowBlocks() == 24);
  CHECK(arena.getWindowLayers().size() == 5);
  KvGeometry shape = split();
  shape.n_blocks = 0;
  shape.n_window_blocks = 0;
  shape.window_layers[0] = 0;
  auto back = from_wire(arena.asReader(), shape);
  REQUIRE(back.ok());
  CHECK(*back == split());

  KvGeometry plain = split();  // no window layers: both counts as before
  plain.n_window_blocks = 0;
  plain.window_layers[0] = 0;
  to_wire(plain, arena);
  auto plain_back = from_wire(arena.asReader(), split());  // the shape's own window marks are not kept
  REQUIRE(plain_back.ok());
  CHECK(*plain_back == plain);

  arena.initWindowLayers(1).set(0, 6);  // past the six layers
  arena.setNumWindowBlocks(3);
  CHECK(from_wire(arena.asReader(), shape).status().message().find("window layer past the last") != std::string::npos);
  arena.initWindowLayers(1).set(0, 4096);
  CHECK(from_wire(arena.asReader(), shape).status().message().find("window layer 4096") != std::string::npos);
}

TEST_CASE("a block's shape names the window layers its bytes leave out") {
  capnp::MallocMessageBuilder mb;
  auto s = mb.initRoot<wire::KvShape>();
  to_wire(split(), s);
  CHECK(s.getBytesPerBlock() == 1ull * 2 * 16 * 64 * 2);  // the one global layer
  auto back = from_wire(s.asReader());
  REQUIRE(back.ok());
  CHECK(back->n_window_layers() == 5);
  CHECK(back->block_bytes() == split().block_bytes());
  s.initWindowLayers(0);  // without them the bytes do not add up
  CHECK(from_wire(s.asReader()).status().message().find("bytesPerBlock") != std::string::npos);
}

}  // namespace
}  // namespace llmos::ipc
