// KvGeometry: the shape of a model's paged KV cache, the one declaration the
// driver, the engine, the KV arena (shared memory), the memory service and the
// kernel's memory estimate use. Storage layout (element type `type`, F16 or F32):
//   [n_layers][2 (K, V)][blocks of the layer][block_size][n_kv_heads * head_dim]
// where a layer holds n_blocks blocks, or n_window_blocks when it is a window
// layer (a sliding-window layer whose planes hold only its window's blocks,
// indexed by the window block tables). A slot is block * block_size + offset.
// A plain, trivially copyable value (it is stored in the arena header): copy
// freely, thread-safe to read. C++17, as the CUDA driver includes it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"

namespace llmos {

inline constexpr int32_t kDefaultKvBlockSize = 16;  // tokens per KV block
inline constexpr int32_t kMaxKvWindowLayers = 256;  // window layers are marked among the first 256

struct KvGeometry {
  int32_t n_layers = 0;
  int32_t n_blocks = 0;
  int32_t block_size = kDefaultKvBlockSize;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  DType type = DType::kF16;
  // Blocks of each window layer's planes; 0 when there is no window layer.
  int32_t n_window_blocks = 0;
  // Bit l % 64 of word l / 64: layer l is a window layer (set_window_layer).
  uint64_t window_layers[kMaxKvWindowLayers / 64] = {};

  int kv_dim() const { return n_kv_heads * head_dim; }
  size_t elem_bytes() const { return type == DType::kF32 ? 4 : 2; }
  // Whether the planes of `layer` hold n_window_blocks (indexed by the window tables).
  bool is_window_layer(int layer) const {
    return layer >= 0 && layer < kMaxKvWindowLayers && ((window_layers[layer / 64] >> (layer % 64)) & 1u) != 0;
  }
  // REQUIRES: 0 <= layer < kMaxKvWindowLayers.
  void set_window_layer(int layer) { window_layers[layer / 64] |= uint64_t{1} << (layer % 64); }
  // Window layers below `layer` (all of them for layer >= kMaxKvWindowLayers).
  int window_layers_before(int layer) const {
    int n = 0;
    for (int w = 0; w < kMaxKvWindowLayers / 64 && w * 64 < layer; ++w) {
      const int below = layer - w * 64;  // bits of this word below `layer`
      const uint64_t bits = below >= 64 ? window_layers[w] : window_layers[w] & ((uint64_t{1} << below) - 1);
      n += __builtin_popcountll(bits);
    }
    return n;
  }
  int n_window_layers() const { return window_layers_before(kMaxKvWindowLayers); }
  // Blocks the planes of `layer` hold: n_window_blocks for a window layer, else n_blocks.
  int32_t layer_blocks(int layer) const { return is_window_layer(layer) ? n_window_blocks : n_blocks; }
  // Elements of one (layer, K-or-V) plane of n_blocks blocks.
  size_t plane_elems() const { return size_t(n_blocks) * size_t(block_size) * size_t(kv_dim()); }
  // Elements of one plane of a window layer.
  size_t window_plane_elems() const { return size_t(n_window_blocks) * size_t(block_size) * size_t(kv_dim()); }
  // Element offset of the K (kv = 0) or V (kv = 1) plane of `layer`.
  size_t plane_offset(int layer, int kv) const {
    const size_t windowed = size_t(window_layers_before(layer));
    const size_t before = (size_t(layer) - windowed) * 2 * plane_elems() + windowed * 2 * window_plane_elems();
    return before + size_t(kv) * (is_window_layer(layer) ? window_plane_elems() : plane_elems());
  }
  // Bytes of one block over every layer holding n_blocks blocks (all layers but
  // the window layers), K and V: what a swapped block costs.
  uint64_t block_bytes() const { return uint64_t(n_layers - n_window_layers()) * layer_block_bytes(); }
  // Bytes of one window block over the window layers, K and V.
  uint64_t window_block_bytes() const { return uint64_t(n_window_layers()) * layer_block_bytes(); }
  // Bytes of one block of one layer, K and V.
  uint64_t layer_block_bytes() const { return 2 * uint64_t(block_size) * uint64_t(kv_dim()) * elem_bytes(); }
  uint64_t bytes() const {
    return block_bytes() * uint64_t(n_blocks) + window_block_bytes() * uint64_t(n_window_blocks);
  }
  // Blocks that hold `tokens` tokens (rounded up). REQUIRES: block_size > 0.
  int32_t blocks_for(int64_t tokens) const { return int32_t((tokens + block_size - 1) / block_size); }
  // Tokens the cache holds.
  int64_t tokens() const { return int64_t(n_blocks) * block_size; }

  // Written out (not defaulted): nvcc compiles the CUDA driver as C++17.
  bool operator==(const KvGeometry& o) const {
    for (int w = 0; w < kMaxKvWindowLayers / 64; ++w) {
      if (window_layers[w] != o.window_layers[w]) return false;
    }
    return n_layers == o.n_layers && n_blocks == o.n_blocks && block_size == o.block_size &&
           n_kv_heads == o.n_kv_heads && head_dim == o.head_dim && type == o.type &&
           n_window_blocks == o.n_window_blocks;
  }
  bool operator!=(const KvGeometry& o) const { return !(*this == o); }
};

// Window blocks one sequence holds at most between steps and while it decodes
// one token: the `window` positions it sees, plus the block the window starts
// in part-way: ceil(window / block_size) + 1. REQUIRES: block_size > 0.
inline int32_t kv_window_blocks_per_sequence(int window, int32_t block_size) {
  return int32_t((int64_t(window) + block_size - 1) / block_size + 1);
}

// A geometry sized for `tokens` tokens in whole blocks (n_blocks = blocks_for(tokens)).
KvGeometry kv_geometry_for_tokens(KvGeometry shape, int64_t tokens);

// invalid_argument naming the field when the geometry cannot back a cache:
// a count that is not positive, a type other than F16/F32, a size past 2^62,
// window layers without window blocks (or the reverse), or a window layer past
// the last layer.
Status validate_kv_geometry(const KvGeometry& g);

// "5 layers x 128 blocks x 16 tokens x 4 heads x 16 dims f16", for messages;
// with window layers, ", 4 window layers x 24 blocks" follows.
std::string describe_kv_geometry(const KvGeometry& g);

}  // namespace llmos
