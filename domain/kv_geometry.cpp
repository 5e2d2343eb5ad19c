#include "llmos/domain/kv_geometry.hpp"

#include <string>

namespace llmos {

KvGeometry kv_geometry_for_tokens(KvGeometry shape, int64_t tokens) {
  shape.n_blocks = shape.blocks_for(tokens);
  return shape;
}

Status validate_kv_geometry(const KvGeometry& g) {
  const std::pair<const char*, int32_t> counts[] = {{"n_layers", g.n_layers},     {"n_blocks", g.n_blocks},
                                                    {"block_size", g.block_size}, {"n_kv_heads", g.n_kv_heads},
                                                    {"head_dim", g.head_dim}};
  for (const auto& [field, value] : counts) {
    if (value <= 0) return invalid_argument("KV geometry: " + std::string(field) + " must be positive, got " + std::to_string(value));
  }
  if (g.type != DType::kF16 && g.type != DType::kF32) {
    return invalid_argument("KV geometry: the element type must be f16 or f32, got " + std::string(dtype_name(g.type)));
  }
  const int window_layers = g.n_window_layers();
  if (g.window_layers_before(g.n_layers) != window_layers) {
    return invalid_argument("KV geometry: a window layer past the last of " + std::to_string(g.n_layers) + " layers");
  }
  if ((window_layers > 0) != (g.n_window_blocks > 0) || g.n_window_blocks < 0) {
    return invalid_argument("KV geometry: " + std::to_string(window_layers) + " window layers with n_window_blocks " +
                            std::to_string(g.n_window_blocks) + " (window layers need window blocks, and only they)");
  }
  // Each factor is below 2^31; keep the product well inside 64 bits.
  const double per_block = double(g.block_size) * double(g.kv_dim()) * double(g.elem_bytes()) * 2;
  const double bytes = per_block * (double(g.n_layers - window_layers) * g.n_blocks + double(window_layers) * g.n_window_blocks);
  if (bytes > double(uint64_t{1} << 62)) return invalid_argument("KV geometry: " + describe_kv_geometry(g) + " is too large");
  return ok_status();
}

std::string describe_kv_geometry(const KvGeometry& g) {
  std::string s = std::to_string(g.n_layers) + " layers x " + std::to_string(g.n_blocks) + " blocks x " +
                  std::to_string(g.block_size) + " tokens x " + std::to_string(g.n_kv_heads) + " heads x " +
                  std::to_string(g.head_dim) + " dims " + std::string(dtype_name(g.type));
  if (g.n_window_layers() > 0) {
    s += ", " + std::to_string(g.n_window_layers()) + " window layers x " + std::to_string(g.n_window_blocks) + " blocks";
  }
  return s;
}

}  // namespace llmos
