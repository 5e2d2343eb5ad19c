// A loaded model of any family, as the engine and every host see it: its GGUF
// file (mmapped; weights are never copied on the CPU), its driver, its config,
// and forward(), which the model's family builds from the driver's ops.
// load_model() picks the family by the file's `general.architecture`.
// Owned by one engine thread; forward() is not reentrant.
#pragma once
#include <cstdint>
#include <memory>

#include "llmos/common/status.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/engine/kv_cache.hpp"
#include "llmos/engine/model_config.hpp"

namespace llmos::gguf {
class GgufFile;
}

namespace llmos::engine {

struct ModelOptions {
  int max_batch_tokens = 512;  // tokens one forward step may carry (prefill chunk + decodes)
  int max_outputs = 64;        // rows of logits one step may ask for (one per sequence)
};

class Model {
 public:
  virtual ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
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
  virtual void forward(const driver::StepBatch& batch, KvCache& kv, float* logits) = 0;

 protected:
  Model(ModelConfig config, const ModelOptions& options, std::unique_ptr<gguf::GgufFile> file,
        std::unique_ptr<driver::Driver> driver);

  ModelConfig config_;
  ModelOptions options_;
  std::unique_ptr<gguf::GgufFile> file_;
  std::unique_ptr<driver::Driver> driver_;
  uint64_t weight_bytes_ = 0;      // a family adds each tensor it binds
  uint64_t activation_bytes_ = 0;  // and each buffer it allocates
};

// Loads `file` with the family that runs its `general.architecture`
// (model_family.hpp), validating every tensor's presence, type and shape; errors
// name the file and the key or tensor. An architecture no family runs is
// unimplemented, in one line naming it and the ones llmos runs.
Result<std::unique_ptr<Model>> load_model(std::unique_ptr<gguf::GgufFile> file,
                                          std::unique_ptr<driver::Driver> driver, const ModelOptions& options);

}  // namespace llmos::engine
