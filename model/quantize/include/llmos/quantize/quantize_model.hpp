// quantize_model: rewrites a GGUF model with F32/F16/BF16 weights as a quantized
// one in a llama.cpp-style mix (quant_mix.hpp): metadata copied (file type set),
// matrices converted row by row on a few threads, the rest copied. Streams from
// the mmapped input to the output file, so models larger than memory work.
// Stateless; each call owns its threads: thread-safe on distinct outputs.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/quantize/quant_mix.hpp"

namespace llmos::quantize {

// What happens to one tensor: kept as `from` when from == to, else converted.
struct TensorPlan {
  std::string name;
  std::vector<int64_t> dims;  // ne0 first
  DType from = DType::kF32;
  DType to = DType::kF32;
};

struct QuantizeProgress {
  std::string_view tensor;  // the tensor being converted
  uint64_t done = 0;        // elements converted so far, over all converted tensors
  uint64_t total = 0;       // elements to convert
};

struct QuantizeOptions {
  Mix mix = Mix::kQ4_K_M;
  int threads = 0;  // 0: one per hardware thread
  // Called from the calling thread after each chunk of rows.
  std::function<void(const QuantizeProgress&)> progress;
};

struct QuantizeSummary {
  std::vector<TensorPlan> tensors;  // in file order
  uint64_t file_bytes = 0;
};

// The model facts the mix rules use: general.architecture's block_count,
// attention.head_count(_kv), and whether output.weight exists.
ModelShape model_shape(const gguf::GgufFile& in);

// Each tensor's fate under `mix`. Inputs must hold unquantized weights: a
// quantizable tensor already in a block type other than its target is refused
// (invalid_argument naming the tensor, its type and the file), since
// requantizing stacks a second rounding error on the first.
Result<std::vector<TensorPlan>> plan_quantization(const gguf::GgufFile& in, Mix mix);

// Reads `in_path`, writes `out_path` (via a .partial file, renamed at the end).
// Errors name the file: those of GgufFile::open (not GGUF, corrupt), of
// plan_quantization, of the write.
Result<QuantizeSummary> quantize_model(const std::string& in_path, const std::string& out_path,
                                       const QuantizeOptions& options);

}  // namespace llmos::quantize
