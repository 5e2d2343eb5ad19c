// Inspecting a model file before a load: validates the GGUF file, its
// hyper-parameters and its vocabulary's size, and estimates the memory the load
// needs (weights + the KV arena for the requested context, counted by
// llmos/model/memory_estimate.hpp). Runs on the kernel's
// blocking pool (it reads the whole header); a plain function, thread-safe.
#pragma once
#include <cstdint>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/domain/kv_geometry.hpp"
#include "llmos/kernel/model_registry.hpp"
#include "llmos/model/memory_estimate.hpp"

namespace llmos::kernel {

struct ModelFacts {
  std::string path;       // as given
  uint32_t ctx = 0;       // the context the load will use
  uint32_t model_ctx = 0; // the model's own (trained) context
  uint32_t vocab_size = 0;
  KvGeometry kv;          // the KV arena for `ctx` tokens in whole blocks
  MemoryEstimate memory;  // weights + KV for `ctx`
};

// Errors name the file: not_found (missing), invalid_argument (truncated,
// corrupt, a vocabulary whose size does not match the weights, a ctx above the
// model's), unimplemented (a tensor type llmos lacks). Whether llmos runs the
// architecture, and whether it reads the tokens, is the model service's answer
// when it loads the file.
// `ctx` 0 means the model's own context length; `max_seqs` (sequences the
// model service runs at once) sizes the sliding-window layers' blocks.
Result<ModelFacts> inspect_model(const std::string& path, uint32_t ctx, uint32_t block_size,
                                 uint32_t max_seqs = model::kDefaultKvSequences);

}  // namespace llmos::kernel
