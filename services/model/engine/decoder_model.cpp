#include "decoder_model.hpp"

#include <string>

#include "llmos/gguf/gguf_file.hpp"

namespace llmos::engine {

Status DecoderModel::prepare() {
  LLMOS_RETURN_IF_ERROR(check_supported());
  const ModelConfig& c = config_;
  WeightBinder bind(*file_, *driver_);
  LLMOS_ASSIGN_OR_RETURN(token_embd_, bind.matrix("token_embd.weight", c.dim, c.n_vocab));
  LLMOS_ASSIGN_OR_RETURN(output_norm_, bind.norm("output_norm.weight", c.dim));
  if (c.tied_output) {
    output_ = token_embd_;
  } else {
    LLMOS_ASSIGN_OR_RETURN(output_, bind.matrix("output.weight", c.dim, c.n_vocab));
  }
  LLMOS_RETURN_IF_ERROR(bind_layers(bind));
  weight_bytes_ = bind.bytes();
  LLMOS_ASSIGN_OR_RETURN(buf_, allocate_decoder_buffers(*driver_, arena_, config_, options_));
  activation_bytes_ = arena_.bytes();
  return ok_status();
}

int DecoderModel::begin_forward(const driver::StepBatch& batch) {
  LLMOS_REQUIRE(batch.n_tokens > 0 && batch.n_tokens <= options_.max_batch_tokens, "step size");
  LLMOS_REQUIRE(batch.n_outputs >= 0 && batch.n_outputs <= options_.max_outputs, "output count");
  driver_->begin_step(batch);
  driver_->embed(token_embd_, buf_.x);
  return batch.n_tokens;
}

void DecoderModel::finish_forward(const driver::StepBatch& batch, float* logits) {
  if (batch.n_outputs == 0) return;
  output_logits(*driver_, config_, output_norm_, output_, batch.n_outputs, buf_, logits);
}

Status check_equal_head_dims(const gguf::GgufFile& f, const ModelConfig& c, std::string_view family) {
  if (c.v_head_dim == c.head_dim) return ok_status();
  return unimplemented(f.path() + ": key '" + c.architecture + ".attention.value_length' = " +
                       std::to_string(c.v_head_dim) + " differs from the key length " + std::to_string(c.head_dim) +
                       "; llmos's " + std::string(family) + " family needs them equal");
}

Status check_no_experts(const gguf::GgufFile& f, const ModelConfig& c, std::string_view family) {
  if (c.n_experts == 0) return ok_status();
  return unimplemented(f.path() + ": key '" + c.architecture + ".expert_count' = " + std::to_string(c.n_experts) +
                       ": llmos's " + std::string(family) + " family runs no experts");
}

}  // namespace llmos::engine
