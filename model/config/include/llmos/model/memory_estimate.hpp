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
  uint64_t kv_bytes = 0;       // the KV cache for kv_tokens (sliding layers: their window blocks)
  int kv_window_layers = 0;        // sliding-window layers, holding kv_window_tokens each instead
  uint64_t kv_window_tokens = 0;   // their n_window_blocks in tokens (0: no such layer)
  uint64_t total() const { return weights_bytes + kv_bytes; }
};

// Sequences one model service runs at once unless told otherwise (the
// kernel's default): what sizes the sliding-window layers' blocks.
inline constexpr uint32_t kDefaultKvSequences = 8;

// The KV cache a model needs for `ctx` tokens in whole blocks of `block_size`
// (the kernel sizes its arena with it, the engine allocates by it):
//   n_blocks = ceil(ctx / block_size) blocks for each global layer, and for each
//   sliding-window layer (Hyperparameters::is_sliding_window_layer) only
//   n_window_blocks = min(n_blocks, max_seqs x kv_window_blocks_per_sequence):
//   every running sequence can hold its window and decode; a prompt chunk
//   takes what is free beyond that (the scheduler shortens chunks to fit);
//   x block_size x n_kv_heads x head_dim x 2 (K, V) x element bytes.
// `kv_type` is F16 or F32. invalid_argument: ctx, block_size or max_seqs 0,
// another kv_type, or a count past 64 bits; unimplemented: V rows of another
// width than K's (the paged KV cache stores both at head_dim), or a sliding
// layer past kMaxKvWindowLayers.
Result<KvGeometry> kv_cache_geometry(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type,
                                     uint32_t max_seqs = kDefaultKvSequences);
// kv_cache_geometry(...).bytes().
Result<uint64_t> kv_cache_bytes(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type,
                                uint32_t max_seqs = kDefaultKvSequences);

// The weight bytes one token's forward pass reads: every tensor, but of the
// stacked expert tensors (`*_exps`) only the n_experts_used / n_experts share a
// token routes to. Equal to file.total_tensor_bytes() for a dense model.
uint64_t active_weight_bytes(const gguf::GgufFile& file, const Hyperparameters& h);

// Weights of `file` (described by `h`) plus kv_cache_bytes(h, ctx, block_size, kv_type, max_seqs).
Result<ModelMemoryEstimate> estimate_model_memory(const gguf::GgufFile& file, const Hyperparameters& h,
                                                  uint64_t ctx, uint32_t block_size, DType kv_type,
                                                  uint32_t max_seqs = kDefaultKvSequences);

}  // namespace llmos::model
