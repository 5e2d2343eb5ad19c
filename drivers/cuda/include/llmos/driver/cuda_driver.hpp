// The CUDA driver: the Driver interface on one NVIDIA GPU (one stream, cuBLAS
// for the matrix products, llmos's own kernels for the rest). The caller owns
// the driver returned by make_cuda_driver; like every Driver it is used from one
// thread. No CUDA header is needed to use this one (the library links cudart).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/driver/cuda_arena.hpp"
#include "llmos/driver/driver.hpp"

namespace llmos::driver {

struct CudaDriverOptions {
  int device = 0;  // CUDA device ordinal
  // Device memory comes from arenas of this size (a bigger request gets an
  // arena of its own); alloc() and the driver's scratch are carved from them.
  size_t arena_chunk_bytes = size_t(256) << 20;
  // When set, upload_weight() carves weights from this arena (e.g. one the
  // kernel created and exported) instead of the driver's own arenas.
  std::shared_ptr<DeviceArena> weight_arena;
  // With weight_arena: the weights are already there (uploaded by another
  // process through the same sequence of upload_weight calls on an empty
  // arena); upload_weight() only replays the allocation and checks the first
  // bytes match instead of copying. See README.md, "Weights that survive".
  bool weights_resident = false;
  // Quantized (Q8_0/Q4_0) matmuls with at most this many tokens run on llmos's
  // dp4a matrix-vector kernels (one pass over the weight per 8 tokens); larger
  // ones dequantize row tiles to F16 for cuBLAS. Clamped to [0, 64]. The best
  // crossover is a measurement (llmos-cuda-bench matmul); see README.md.
  int quant_matvec_max_tokens = 8;
  // Decode attention splits a token's context into parts of at most this many
  // positions (combined by a reduction), and a small decode batch further (parts
  // of >= 128 positions) until there are about 4 blocks per SM; 0 = never split.
  int attention_split_len = 512;
  // Runs of at least this many consecutive tokens of one sequence use the
  // tiled prefill attention kernel; shorter ones the paged decode kernel.
  int prefill_min_run = 8;
  // What an asynchronous CUDA error does when copy_to_host / synchronize finds
  // it: print and abort (the supervisor restarts the service), or keep it in
  // status() and fill copied-out memory with NaN bytes (0xFF).
  bool abort_on_error = true;
};

// One row of device sampling. temperature <= 0: greedy (argmax, lowest id on
// ties). Otherwise the Sampler's rule without repetition penalty: top_k
// (1..kMaxDeviceTopK) candidates sorted by logit (ties: lower id first),
// softmax at temperature 1 for the top_p and min_p cuts (1 and 0 = off), then
// softmax at `temperature` and the first candidate whose cumulative
// probability exceeds `uniform` (a draw in [0, 1) the caller supplies).
struct DeviceSampleRow {
  float temperature = 0.0f;
  int top_k = 40;
  float top_p = 1.0f;
  float min_p = 0.0f;
  double uniform = 0.0;
};
inline constexpr int kMaxDeviceTopK = 1024;

// The extras the CUDA driver offers beyond Driver (reach them with as_cuda_driver).
class CudaDriver : public Driver {
 public:
  // The first error an op recorded since the driver was made (ok if none).
  // Ops return void; an error makes later ops no-ops until it is reported.
  virtual Status status() const = 0;
  // Samples one token per row of `logits` (device memory, [n_rows][n_vocab]
  // f32) into `out` (host, [n_rows]); synchronizes. invalid_argument for a
  // bad row (top_k out of range...), or the recorded error.
  virtual Status sample(const float* logits, int n_rows, int n_vocab,
                        std::span<const DeviceSampleRow> rows, int32_t* out) = 0;
  // Bytes of device memory the driver holds in its own arenas (not weight_arena).
  virtual size_t arena_bytes() const = 0;
};

// The driver on options.device. unimplemented("no CUDA device: <reason>") when
// the CUDA runtime finds no device (no GPU, no driver); failed(...) naming the
// CUDA or cuBLAS call when setting up the device fails.
Result<std::unique_ptr<Driver>> make_cuda_driver(const CudaDriverOptions& options);

// True when the CUDA runtime sees at least one device (cheap; no context kept).
bool cuda_device_available();

// The CUDA extras of `d`, or nullptr when `d` is another driver.
CudaDriver* as_cuda_driver(Driver& d);

}  // namespace llmos::driver
