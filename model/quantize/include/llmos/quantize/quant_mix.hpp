// The quantization mixes of `llmos quantize` (q8_0 ... q4_k_m ... iq4_xs) and the
// per-tensor type each one gives, following llama.cpp's llama-quantize
// conventions: output.weight in Q6_K, attn_v / attn_output / ffn_down raised in
// the _M mixes, and a fallback type for rows that do not fit a type's blocks.
// Pure functions: thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "llmos/common/dtype.hpp"
#include "llmos/common/status.hpp"

namespace llmos::quantize {

enum class Mix {
  kQ8_0, kQ4_0, kQ4_1, kQ5_0, kQ5_1,
  kQ2_K, kQ3_K_M, kQ4_K_S, kQ4_K_M, kQ5_K_M, kQ6_K, kIQ4_XS,
};

// "q4_k_m" (any case) -> Mix; invalid_argument naming the text and the choices.
Result<Mix> parse_mix(std::string_view name);
std::string_view mix_name(Mix mix);  // "q4_k_m"
// The names parse_mix accepts, comma separated (for help and errors).
std::string_view mix_names();
// llama.cpp's general.file_type (llama_ftype) for the mix: 15 for q4_k_m.
uint32_t mix_file_type(Mix mix);
// The type most matrices get: Q4_K for q4_k_s and q4_k_m.
DType mix_base_type(Mix mix);

// What the per-tensor rules need to know of the model.
struct ModelShape {
  int n_layers = 0;
  int n_heads = 1;
  int n_kv_heads = 1;
  bool has_output = true;  // false: token_embd doubles as the output matrix
};

// True for the tensors a mix quantizes: names ending in ".weight" with at least
// two dimensions (the 1-D norms and biases keep their type).
bool is_quantizable(std::string_view name, std::span<const int64_t> dims);

// The type `name` (dims ne0 first) gets in `mix`, after the fallback for a row
// length (dims[0]) that is not a multiple of the chosen type's block: Q2_K and
// Q3_K to Q4_0, Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, IQ4_XS to IQ4_NL, and F16
// when even that does not fit. nullopt for tensors that are not quantizable.
std::optional<DType> tensor_type(Mix mix, const ModelShape& shape, std::string_view name,
                                 std::span<const int64_t> dims);

}  // namespace llmos::quantize
