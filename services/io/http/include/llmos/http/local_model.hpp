// LocalModel: a GGUF file opened for use in this process — its text side
// (tokenizer, prompt encoder, template facts), the model on a CPU driver, and an
// engine over it — wired once here for `llmos serve --local`, `llmos generate
// --local` and llmos-bench. A plain owner: move it, hand its engine to an
// EngineHost; the model must outlive the engine.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "llmos/common/status.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/http/model_text.hpp"

namespace llmos::http {

struct LocalModelOptions {
  int threads = 0;             // CPU driver threads; 0 = one per core
  int max_seqs = 16;           // sequences decoding at once (and logits rows per step)
  int max_batch_tokens = 512;  // tokens one engine step may carry
  int ctx = 0;                 // per-sequence context; 0 = the model's
  int kv_tokens = 0;           // KV capacity over all sequences; 0 = one context
  std::string chat_template_file;  // "" = the model's own chat template
};

struct LocalModel {
  std::shared_ptr<const ModelText> text;
  std::unique_ptr<engine::Model> model;
  std::unique_ptr<engine::Engine> engine;  // over *model (declared after it: destroyed first)
  std::string device;                      // the driver's name
  uint64_t memory_bytes = 0;               // weights + activations + KV cache
};

// Errors name the file: unreadable or corrupt, an architecture or tensor type
// llmos lacks, a vocabulary whose size differs from the embedding's rows.
Result<LocalModel> open_local_model(const std::string& path, const LocalModelOptions& options);

}  // namespace llmos::http
