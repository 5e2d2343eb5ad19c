// What loading a model costs in memory: its weights plus a KV cache for a
// context, counted the one way the kernel (before a load) and `llmos inspect`
// both use. Plain functions over values: thread-safe.
#pragma once
#include <cstdint>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
#include "llmos/domain/kv_geometry.hpp"
#include "llmos/model/hyperparameters.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::model {

struct ModelMemoryEstimate {
  uint64_t weights_bytes = 0;  // every tensor (mmapped read-only on the CPU, shared)
  uint64_t kv_tokens = 0;      // the context rounded up to whole KV blocks
  uint64_t kv_bytes = 0;       // the KV cache for kv_tokens
  uint64_t total() const { return weights_bytes + kv_bytes; }
};

// The KV cache a model needs for `ctx` tokens in whole blocks of `block_size`
// (the kernel sizes its arena with it):
//   n_layers x 2 (K, V) x ceil(ctx / block_size) blocks x block_size x n_kv_heads x head_dim x element bytes.
// `kv_type` is F16 or F32. invalid_argument: ctx or block_size 0, another
// kv_type, or a count past 64 bits; unimplemented: V rows of another width
// than K's (the paged KV cache stores both at head_dim).
Result<KvGeometry> kv_cache_geometry(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type);
// kv_cache_geometry(...).bytes().
Result<uint64_t> kv_cache_bytes(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type);

// The weight bytes one token's forward pass reads: every tensor, but of the
// stacked expert tensors (`*_exps`) only the n_experts_used / n_experts share a
// token routes to. Equal to file.total_tensor_bytes() for a dense model.
uint64_t active_weight_bytes(const gguf::GgufFile& file, const Hyperparameters& h);

// Weights of `file` (described by `h`) plus kv_cache_bytes(h, ctx, block_size, kv_type).
Result<ModelMemoryEstimate> estimate_model_memory(const gguf::GgufFile& file, const Hyperparameters& h,
                                                  uint64_t ctx, uint32_t block_size, DType kv_type);

}  // namespace llmos::model
