#include "llmos/model/memory_estimate.hpp"

#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::model {
namespace {

uint64_t kv_tokens_for(uint64_t ctx, uint32_t block_size) {
  return (ctx / block_size + (ctx % block_size != 0)) * block_size;
}

}  // namespace

// The one place the KV cache's size is counted from a model's hyper-parameters.
Result<uint64_t> kv_cache_bytes(const Hyperparameters& h, uint64_t ctx, uint32_t block_size, DType kv_type) {
  if (ctx == 0) return invalid_argument("KV estimate: the context must be at least 1 token");
  if (block_size == 0) return invalid_argument("KV estimate: the block size must be positive");
  if (kv_type != DType::kF16 && kv_type != DType::kF32) {
    return invalid_argument("KV estimate: the KV cache holds f16 or f32, not " + std::string(dtype_name(kv_type)));
  }
  const uint64_t elem_bytes = kv_type == DType::kF32 ? 4 : 2;
  uint64_t bytes = elem_bytes;
  const uint64_t factors[] = {uint64_t(h.n_layers), kv_tokens_for(ctx, block_size), uint64_t(h.n_kv_heads),
                              uint64_t(h.head_dim) + uint64_t(h.v_head_dim)};
  for (uint64_t factor : factors) {
    if (__builtin_mul_overflow(bytes, factor, &bytes)) {
      return invalid_argument("KV estimate: a context of " + std::to_string(ctx) +
                              " tokens needs more bytes than 64 bits count");
    }
  }
  return bytes;
}

Result<ModelMemoryEstimate> estimate_model_memory(const gguf::GgufFile& file, const Hyperparameters& h,
                                                  uint64_t ctx, uint32_t block_size, DType kv_type) {
  ModelMemoryEstimate m;
  m.weights_bytes = file.total_tensor_bytes();
  LLMOS_ASSIGN_OR_RETURN(m.kv_bytes, kv_cache_bytes(h, ctx, block_size, kv_type));
  m.kv_tokens = kv_tokens_for(ctx, block_size);
  if (m.total() < m.weights_bytes) {
    return invalid_argument(file.path() + ": a context of " + std::to_string(ctx) +
                            " tokens needs more bytes than 64 bits count");
  }
  return m;
}

}  // namespace llmos::model
