// A loaded llama-family model: its GGUF file (mmapped; weights are never
// copied on the CPU), its driver, the weights as the driver holds them, and the
// activation buffers for one forward step, sized once at load.
// Owned by one engine thread; forward() is not reentrant.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/engine/kv_cache.hpp"
#include "llmos/engine/llama_config.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::engine {

struct ModelOptions {
  int max_batch_tokens = 512;  // tokens one forward step may carry (prefill chunk + decodes)
  int max_outputs = 64;        // rows of logits one step may ask for (one per sequence)
};

class LlamaModel {
 public:
  // Validates every tensor's presence, type and shape against the config;
  // errors name the file and tensor.
  static Result<std::unique_ptr<LlamaModel>> load(std::unique_ptr<gguf::GgufFile> file,
                                                  std::unique_ptr<driver::Driver> driver,
                                                  const ModelOptions& options);
  ~LlamaModel();

  const LlamaConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  const gguf::GgufFile& file() const { return *file_; }
  driver::Driver& driver() { return *driver_; }
  // Bytes of all weight tensors (mmapped and shared on the CPU).
  uint64_t weight_bytes() const { return weight_bytes_; }
  // Bytes of the activation buffers this model allocated.
  uint64_t activation_bytes() const { return activation_bytes_; }

  // One forward step over `batch`: writes the K/V of every token into `kv`
  // and the logits of batch.output_rows into `logits` ([n_outputs][n_vocab], host).
  // REQUIRES: batch.n_tokens <= max_batch_tokens, batch.n_outputs <= max_outputs,
  // kv_slots and block tables valid for kv.layout().
  void forward(const driver::StepBatch& batch, KvCache& kv, float* logits);

 private:
  struct Layer {
    driver::Weight attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
  };
  LlamaModel() = default;
  Status bind_weights();
  Status allocate_activations();

  LlamaConfig config_;
  ModelOptions options_;
  std::unique_ptr<gguf::GgufFile> file_;
  std::unique_ptr<driver::Driver> driver_;
  driver::Weight token_embd_, output_norm_, output_;
  std::vector<Layer> layers_;
  uint64_t weight_bytes_ = 0;
  uint64_t activation_bytes_ = 0;

  // Activations, T = max_batch_tokens, O = max_outputs, f32, device memory:
  std::vector<std::unique_ptr<driver::DeviceBuffer>> buffers_;
  float* x_ = nullptr;       // [T][dim]    residual stream
  float* xn_ = nullptr;      // [T][dim]    normed input of a sublayer
  float* q_ = nullptr;       // [T][q_dim]
  float* k_ = nullptr;       // [T][kv_dim]
  float* v_ = nullptr;       // [T][kv_dim]
  float* att_ = nullptr;     // [T][q_dim]  attention output
  float* tmp_ = nullptr;     // [T][dim]    sublayer output before the residual add
  float* gate_ = nullptr;    // [T][ffn]
  float* up_ = nullptr;      // [T][ffn]
  float* xo_ = nullptr;      // [O][dim]    rows whose logits are wanted
  float* logits_ = nullptr;  // [O][n_vocab]
};

}  // namespace llmos::engine
