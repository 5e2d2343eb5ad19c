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
