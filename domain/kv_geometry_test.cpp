#include "llmos/domain/kv_geometry.hpp"

#include <doctest/doctest.h>

using namespace llmos;

namespace {
KvGeometry stories_like() {  // stories260K: 5 layers, 4 KV heads of 16 dims
  KvGeometry g;
  g.n_layers = 5;
  g.n_kv_heads = 4;
  g.head_dim = 16;
  return g;
}
}  // namespace

TEST_CASE("a KV cache for a context is counted in whole blocks, K and V of every layer") {
  KvGeometry g = kv_geometry_for_tokens(stories_like(), 512);
  CHECK(g.n_blocks == 32);
  CHECK(g.bytes() == 5ull * 2 * 512 * 4 * 16 * 2);
  CHECK(kv_geometry_for_tokens(stories_like(), 17).bytes() == kv_geometry_for_tokens(stories_like(), 32).bytes());
  KvGeometry one = stories_like();
  one.block_size = 1;
  CHECK(kv_geometry_for_tokens(one, 17).bytes() == 5ull * 2 * 17 * 4 * 16 * 2);
  g.type = DType::kF32;
  CHECK(g.bytes() == 5ull * 2 * 512 * 4 * 16 * 4);
}

TEST_CASE("plane offsets follow [layer][K, V][block][slot][kv_dim]") {
  KvGeometry g = kv_geometry_for_tokens(stories_like(), 64);
  CHECK(g.plane_elems() == 4ull * 16 * 64);
  CHECK(g.plane_offset(0, 1) == g.plane_elems());
  CHECK(g.plane_offset(2, 0) == 4 * g.plane_elems());
  CHECK(g.block_bytes() * uint64_t(g.n_blocks) == g.bytes());
}

TEST_CASE("a geometry that cannot back a cache is refused, naming the field") {
  KvGeometry g = kv_geometry_for_tokens(stories_like(), 64);
  CHECK(validate_kv_geometry(g).ok());
  g.head_dim = 0;
  CHECK(validate_kv_geometry(g).message() == "KV geometry: head_dim must be positive, got 0");
  g = kv_geometry_for_tokens(stories_like(), 64);
  g.type = DType::kQ8_0;
  CHECK(validate_kv_geometry(g).message().find("f16 or f32") != std::string::npos);
  g.type = DType::kF16;
  g.n_blocks = 1 << 30;
  g.n_kv_heads = 1 << 20;
  CHECK(validate_kv_geometry(g).message().find("too large") != std::string::npos);
}

namespace {
// gemma3-like: six layers, 0-4 window layers holding 5 blocks, layer 5 all 40.
KvGeometry split_like() {
  KvGeometry g = kv_geometry_for_tokens(stories_like(), 640);
  g.n_layers = 6;
  g.n_window_blocks = 5;
  for (int l = 0; l < 5; ++l) g.set_window_layer(l);
  return g;
}
}  // namespace

TEST_CASE("window layers hold n_window_blocks blocks; their planes and the others' follow in layer order") {
  KvGeometry g = split_like();
  REQUIRE(validate_kv_geometry(g).ok());
  CHECK(g.n_window_layers() == 5);
  CHECK(g.is_window_layer(4));
  CHECK_FALSE(g.is_window_layer(5));
  CHECK(g.layer_blocks(0) == 5);
  CHECK(g.layer_blocks(5) == 40);
  const size_t win = g.window_plane_elems(), all = g.plane_elems();
  CHECK(win == 5ull * 16 * 64);
  CHECK(g.plane_offset(0, 0) == 0);
  CHECK(g.plane_offset(0, 1) == win);
  CHECK(g.plane_offset(3, 1) == 7 * win);
  CHECK(g.plane_offset(5, 0) == 10 * win);
  CHECK(g.plane_offset(5, 1) == 10 * win + all);
  CHECK(g.bytes() == (10 * win + 2 * all) * 2);  // the planes end to end, f16
  CHECK(g.block_bytes() == 1ull * 2 * 16 * 64 * 2);  // the one layer of n_blocks
  CHECK(g.window_block_bytes() == 5ull * 2 * 16 * 64 * 2);

  // A window layer between global ones: later planes move by its smaller size.
  KvGeometry mid = kv_geometry_for_tokens(stories_like(), 640);
  mid.n_window_blocks = 3;
  mid.set_window_layer(1);
  CHECK(mid.plane_offset(2, 0) == 2 * mid.plane_elems() + 2 * mid.window_plane_elems());
  CHECK(mid.plane_offset(4, 1) == 7 * mid.plane_elems() + 2 * mid.window_plane_elems());
  CHECK(mid.bytes() == (8 * mid.plane_elems() + 2 * mid.window_plane_elems()) * 2);
}

TEST_CASE("window layers past 64 are counted across words") {
  KvGeometry g = kv_geometry_for_tokens(stories_like(), 64);
  g.n_layers = 130;
  g.n_window_blocks = 1;
  for (int l : {0, 63, 64, 100, 129}) g.set_window_layer(l);
  CHECK(validate_kv_geometry(g).ok());
  CHECK(g.n_window_layers() == 5);
  CHECK(g.window_layers_before(64) == 2);
  CHECK(g.window_layers_before(65) == 3);
  CHECK(g.window_layers_before(129) == 4);
  CHECK(g.plane_offset(129, 0) == size_t(125) * 2 * g.plane_elems() + 4 * 2 * g.window_plane_elems());
}

TEST_CASE("a split geometry is refused when window layers and window blocks disagree") {
  KvGeometry g = split_like();
  g.n_window_blocks = 0;
  CHECK(validate_kv_geometry(g).message().find("window layers need window blocks") != std::string::npos);
  g = kv_geometry_for_tokens(stories_like(), 64);
  g.n_window_blocks = 4;  // but no window layer
  CHECK(validate_kv_geometry(g).message().find("window layers need window blocks") != std::string::npos);
  g = split_like();
  g.set_window_layer(6);  // past the six layers
  CHECK(validate_kv_geometry(g).message() == "KV geometry: a window layer past the last of 6 layers");
  CHECK(describe_kv_geometry(split_like()) == "6 layers x 40 blocks x 16 tokens x 4 heads x 16 dims f16, 5 window layers x 5 blocks");
  KvGeometry other = split_like();
  other.window_layers[0] = 0x0f;
  CHECK(other != split_like());
}
