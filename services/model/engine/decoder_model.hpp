// The skeleton every decoder family shares: loading (config, the family's
// checks, token embedding + final norm + output projection, the family's layer
// weights, the step's activation buffers) and the start and end of a forward
// step (embed; final norm and logits). A family derives from DecoderModel and
// keeps only its own checks, layer weights and layer loop; load_decoder<F>
// loads one. Owned by one engine thread like any Model; not thread-safe.
#pragma once
#include <memory>
#include <string_view>
#include <utility>

#include "llmos/common/status.hpp"
#include "llmos/engine/model.hpp"
#include "transformer_blocks.hpp"

namespace llmos::engine {

class DecoderModel : public Model {
 public:
  // Public so that a family, inheriting it, is constructible by load_decoder.
  DecoderModel(ModelConfig config, const ModelOptions& options, std::unique_ptr<gguf::GgufFile> file,
               std::unique_ptr<driver::Driver> driver)
      : Model(std::move(config), options, std::move(file), std::move(driver)) {}

 protected:

  // What the file asks for that the family does not compute (errors name the
  // key or tensor); may also fill in the family's per-layer specs in config_.
  virtual Status check_supported() = 0;
  // Binds the family's own weights (every layer's, any extra tensor).
  virtual Status bind_layers(WeightBinder& bind) = 0;

  // The start of a forward step: checks the step's size, stages it, embeds its
  // tokens into buf_.x. Returns the step's token count.
  int begin_forward(const driver::StepBatch& batch);
  // The end of one: the logits of the staged output rows, if any, into `logits`.
  void finish_forward(const driver::StepBatch& batch, float* logits);

  driver::Weight token_embd_, output_norm_, output_;
  ActivationArena arena_;
  DecoderBuffers buf_;

 private:
  template <class FamilyModel>
  friend Result<std::unique_ptr<Model>> load_decoder(std::unique_ptr<gguf::GgufFile> file,
                                                     std::unique_ptr<driver::Driver> driver,
                                                     const ModelOptions& options);
  // check_supported, the shared and the family's weights, the buffers.
  Status prepare();
};

// Reads the file's config and loads it as a FamilyModel (a DecoderModel
// constructible from Model's constructor arguments).
template <class FamilyModel>
Result<std::unique_ptr<Model>> load_decoder(std::unique_ptr<gguf::GgufFile> file,
                                            std::unique_ptr<driver::Driver> driver, const ModelOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(*file));
  std::unique_ptr<DecoderModel> m =
      std::make_unique<FamilyModel>(std::move(config), options, std::move(file), std::move(driver));
  LLMOS_RETURN_IF_ERROR(m->prepare());
  return std::unique_ptr<Model>(std::move(m));
}

// The refusals several families share, naming the key: a value width unlike
// the key width, experts in a family that runs none.
Status check_equal_head_dims(const gguf::GgufFile& file, const ModelConfig& config, std::string_view family);
Status check_no_experts(const gguf::GgufFile& file, const ModelConfig& config, std::string_view family);

}  // namespace llmos::engine
