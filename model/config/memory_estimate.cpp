#include "llmos/model/memory_estimate.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::model {
namespace {

uint64_t kv_tokens_for(uint64_t ctx, uint32_t block_size) {
  return (ctx / block_size + (ctx % block_size != 0)) * block_size;
}

}  // namespace

// The one place the KV cache's shape is derived from a model's hyper-parameters.
Result<KvGeometry> kv_cache_geometry(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type,
                                     uint32_t max_seqs) {
  if (ctx == 0) return invalid_argument("KV estimate: the context must be at least 1 token");
  if (block_size == 0 || block_size > uint32_t(INT32_MAX)) {
    return invalid_argument("KV estimate: the block size must be positive");
  }
  if (kv_type != DType::kF16 && kv_type != DType::kF32) {
    return invalid_argument("KV estimate: the KV cache holds f16 or f32, not " + std::string(dtype_name(kv_type)));
  }
  if (h.v_head_dim != h.head_dim) {
    return unimplemented("KV estimate: V rows of " + std::to_string(h.v_head_dim) + " values beside K rows of " +
                         std::to_string(h.head_dim) + " (the KV cache stores both at one width)");
  }
  const uint64_t blocks = kv_tokens_for(ctx, block_size) / block_size;
  if (blocks > uint64_t(INT32_MAX)) {
    return invalid_argument("KV estimate: a context of " + std::to_string(ctx) + " tokens needs too many KV blocks");
  }
  KvGeometry g;
  g.n_layers = int32_t(h.n_layers);
  g.n_kv_heads = int32_t(h.n_kv_heads);
  g.head_dim = int32_t(h.head_dim);
  g.block_size = int32_t(block_size);
  g.n_blocks = int32_t(blocks);
  g.type = kv_type;
  for (int l = 0; l < h.n_layers; ++l) {
    if (!h.is_sliding_window_layer(l)) continue;
    if (l >= kMaxKvWindowLayers) {
      return unimplemented("KV estimate: sliding-window layer " + std::to_string(l) + " is past the " +
                           std::to_string(kMaxKvWindowLayers) + " layers a KV geometry marks");
    }
    g.set_window_layer(l);
  }
  if (g.n_window_layers() > 0) {
    if (max_seqs == 0) return invalid_argument("KV estimate: the sequences at once must be at least 1");
    const uint64_t per_seq = uint64_t(kv_window_blocks_per_sequence(h.sliding_window, g.block_size));
    g.n_window_blocks = int32_t(std::min<uint64_t>(blocks, per_seq * max_seqs));
  }
  if (Status valid = validate_kv_geometry(g); !valid.ok()) {
    return invalid_argument("KV estimate: a context of " + std::to_string(ctx) + " tokens: " + valid.message());
  }
  return g;
}

Result<uint64_t> kv_cache_bytes(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type,
                                uint32_t max_seqs) {
  LLMOS_ASSIGN_OR_RETURN(KvGeometry g, kv_cache_geometry(h, ctx, block_size, kv_type, max_seqs));
  return g.bytes();
}

uint64_t active_weight_bytes(const gguf::GgufFile& file, const Hyperparameters& h) {
  uint64_t total = 0;
  for (const gguf::TensorInfo& t : file.tensors()) {
    const bool experts = h.n_experts > 0 && t.name.size() > 5 && t.name.ends_with("_exps.weight");
    total += experts ? t.n_bytes / uint64_t(h.n_experts) * uint64_t(h.n_experts_used) : t.n_bytes;
  }
  return total;
}

Result<ModelMemoryEstimate> estimate_model_memory(const gguf::GgufFile& file, const Hyperparameters& h,
                                                  uint64_t ctx, uint32_t block_size, DType kv_type,
                                                  uint32_t max_seqs) {
  ModelMemoryEstimate m;
  m.weights_bytes = file.total_tensor_bytes();
  LLMOS_ASSIGN_OR_RETURN(KvGeometry kv, kv_cache_geometry(h, ctx, block_size, kv_type, max_seqs));
  m.kv_bytes = kv.bytes();
  m.kv_window_layers = kv.n_window_layers();
  m.kv_window_tokens = uint64_t(kv.n_window_blocks) * block_size;
  m.kv_tokens = kv_tokens_for(ctx, block_size);
  if (m.total() < m.weights_bytes) {
    return invalid_argument(file.path() + ": a context of " + std::to_string(ctx) +
                            " tokens needs more bytes than 64 bits count");
  }
  return m;
}

}  // namespace llmos::model
