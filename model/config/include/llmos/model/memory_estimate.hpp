// What loading a model costs in memory: its weights plus a KV cache for a
// context, counted the one way the kernel (before a load) and `llmos inspect`
// both use. Plain functions over values: thread-safe.
#pragma once
#include <cstdint>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
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

// Bytes of a KV cache holding `ctx` tokens in whole blocks of `block_size`:
//   n_layers x ceil(ctx / block_size) * block_size x n_kv_heads x (head_dim + v_head_dim) x element bytes
// (K rows are head_dim wide, V rows v_head_dim). `kv_type` is F16 or F32.
// invalid_argument: ctx or block_size 0, another kv_type, or a count past 64 bits.
Result<uint64_t> kv_cache_bytes(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type);

// Weights of `file` (described by `h`) plus kv_cache_bytes(h, ctx, block_size, kv_type).
Result<ModelMemoryEstimate> estimate_model_memory(const gguf::GgufFile& file, const Hyperparameters& h,
                                                  uint64_t ctx, uint32_t block_size, DType kv_type);

}  // namespace llmos::model
