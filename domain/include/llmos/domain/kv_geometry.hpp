// KvGeometry: the shape of a model's paged KV cache, the one declaration the
// driver, the engine, the KV arena (shared memory), the memory service and the
// kernel's memory estimate use. Storage layout (element type `type`, F16 or F32):
//   [n_layers][2 (K, V)][n_blocks][block_size][n_kv_heads * head_dim]
// A slot is block * block_size + offset. A plain, trivially copyable value (it
// is stored in the arena header): copy freely, thread-safe to read. C++17, as
// the CUDA driver includes it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"

namespace llmos {

inline constexpr int32_t kDefaultKvBlockSize = 16;  // tokens per KV block

struct KvGeometry {
  int32_t n_layers = 0;
  int32_t n_blocks = 0;
  int32_t block_size = kDefaultKvBlockSize;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  DType type = DType::kF16;

  int kv_dim() const { return n_kv_heads * head_dim; }
  size_t elem_bytes() const { return type == DType::kF32 ? 4 : 2; }
  // Elements of one (layer, K-or-V) plane.
  size_t plane_elems() const { return size_t(n_blocks) * size_t(block_size) * size_t(kv_dim()); }
  // Element offset of the K (kv = 0) or V (kv = 1) plane of `layer`.
  size_t plane_offset(int layer, int kv) const { return (size_t(layer) * 2 + size_t(kv)) * plane_elems(); }
  // Bytes of one block over every layer, K and V: what a swapped block costs.
  uint64_t block_bytes() const {
    return uint64_t(n_layers) * 2 * uint64_t(block_size) * uint64_t(kv_dim()) * elem_bytes();
  }
  uint64_t bytes() const { return block_bytes() * uint64_t(n_blocks); }
  // Blocks that hold `tokens` tokens (rounded up). REQUIRES: block_size > 0.
  int32_t blocks_for(int64_t tokens) const { return int32_t((tokens + block_size - 1) / block_size); }
  // Tokens the cache holds.
  int64_t tokens() const { return int64_t(n_blocks) * block_size; }

  // Written out (not defaulted): nvcc compiles the CUDA driver as C++17.
  bool operator==(const KvGeometry& o) const {
    return n_layers == o.n_layers && n_blocks == o.n_blocks && block_size == o.block_size &&
           n_kv_heads == o.n_kv_heads && head_dim == o.head_dim && type == o.type;
  }
  bool operator!=(const KvGeometry& o) const { return !(*this == o); }
};

// A geometry sized for `tokens` tokens in whole blocks (n_blocks = blocks_for(tokens)).
KvGeometry kv_geometry_for_tokens(KvGeometry shape, int64_t tokens);

// invalid_argument naming the field when the geometry cannot back a cache:
// a count that is not positive, a type other than F16/F32, or a size past 2^62.
Status validate_kv_geometry(const KvGeometry& g);

// "5 layers x 128 blocks x 16 tokens x 4 heads x 16 dims f16", for messages.
std::string describe_kv_geometry(const KvGeometry& g);

}  // namespace llmos
