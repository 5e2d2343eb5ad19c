// A Llama-shaped forward pass over the Driver interface with synthetic weights,
// timing prefill (pp) and decode (tg) the way llama-bench does, so the CPU
// driver can be checked against whole-model targets before a model exists.
// Owns its weights and cache for the duration of the call; single-threaded caller.
#pragma once
#include <string>

#include "llmos/driver/driver.hpp"

namespace llmos::cpu {

struct ModelShape {
  std::string name;
  int dim, n_layers, n_heads, n_kv_heads, hidden, vocab;
  DType type;  // every matrix, embedding included
};

// "110m" (stories110M, Q8_0) or "1.1b" (TinyLlama 1.1B, Q4_0); false if unknown.
bool model_shape_by_name(const std::string& name, ModelShape* out);

struct ModelBenchResult {
  double weight_bytes = 0;
  double prefill_tok_s = 0;  // one step of `prefill_tokens` tokens
  double decode_tok_s = 0;   // `decode_tokens` single-token steps from an empty context
  // The same per second of process CPU time: with one thread, a measure that
  // other processes on the machine do not disturb.
  double prefill_tok_cpu_s = 0;
  double decode_tok_cpu_s = 0;
};

ModelBenchResult run_model_bench(driver::Driver& drv, const ModelShape& shape, int prefill_tokens,
                                 int decode_tokens);

}  // namespace llmos::cpu
