// The per-tensor rules of the quantization mixes on the 1B (TinyLlama) shape and
// on rows that fit no super-block; name parsing. The rules against llama.cpp's
// own files are in quantize_golden_test.cpp.
#include "llmos/quantize/quant_mix.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace llmos::quantize {
namespace {

DType type_of(Mix mix, const ModelShape& s, const std::string& name, std::vector<int64_t> dims) {
  auto t = tensor_type(mix, s, name, dims);
  REQUIRE(t.has_value());
  return *t;
}

const ModelShape kTinyLlama{22, 32, 4, true};  // n_gqa = 8

TEST_CASE("mix names parse in any case and unknown names are refused with the choices") {
  CHECK(*parse_mix("q4_k_m") == Mix::kQ4_K_M);
  CHECK(*parse_mix("Q4_K_M") == Mix::kQ4_K_M);
  CHECK(*parse_mix("iq4_xs") == Mix::kIQ4_XS);
  auto bad = parse_mix("q4_k");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("'q4_k'") != std::string::npos);
  CHECK(bad.status().message().find("q4_k_m") != std::string::npos);
  CHECK(mix_file_type(Mix::kQ4_K_M) == 15);
  CHECK(mix_file_type(Mix::kQ8_0) == 7);
  CHECK(mix_file_type(Mix::kIQ4_XS) == 30);
  for (auto m : {Mix::kQ8_0, Mix::kQ2_K, Mix::kQ5_K_M, Mix::kQ6_K}) CHECK(*parse_mix(mix_name(m)) == m);
}

TEST_CASE("1-D tensors and non-weights are not quantized") {
  CHECK_FALSE(tensor_type(Mix::kQ4_K_M, kTinyLlama, "blk.0.attn_norm.weight", std::vector<int64_t>{2048}));
  CHECK_FALSE(tensor_type(Mix::kQ4_K_M, kTinyLlama, "rope_freqs", std::vector<int64_t>{64, 2}));
}

TEST_CASE("q4_k_m on the 1B shape: Q6_K output, attn_v and ffn_down raised on the more-bits layers") {
  const Mix m = Mix::kQ4_K_M;
  CHECK(type_of(m, kTinyLlama, "output.weight", {2048, 32000}) == DType::kQ6_K);
  CHECK(type_of(m, kTinyLlama, "token_embd.weight", {2048, 32000}) == DType::kQ4_K);
  CHECK(type_of(m, kTinyLlama, "blk.5.attn_q.weight", {2048, 2048}) == DType::kQ4_K);
  // n = 22: layers < 2, >= 19, and (i - 2) % 3 == 2 (4, 7, 10, 13, 16) get Q6_K.
  std::vector<int> raised;
  for (int i = 0; i < 22; ++i)
    if (type_of(m, kTinyLlama, "blk." + std::to_string(i) + ".attn_v.weight", {2048, 256}) == DType::kQ6_K)
      raised.push_back(i);
  CHECK(raised == std::vector<int>{0, 1, 4, 7, 10, 13, 16, 19, 20, 21});
  CHECK(type_of(m, kTinyLlama, "blk.4.ffn_down.weight", {5632, 2048}) == DType::kQ6_K);
  CHECK(type_of(m, kTinyLlama, "blk.5.ffn_down.weight", {5632, 2048}) == DType::kQ4_K);
}

TEST_CASE("grouped-query models: q2_k and iq4_xs give attn_v Q4_K / Q5_K") {
  CHECK(type_of(Mix::kQ2_K, kTinyLlama, "blk.3.attn_v.weight", {2048, 256}) == DType::kQ4_K);
  CHECK(type_of(Mix::kQ2_K, ModelShape{4, 4, 2, true}, "blk.3.attn_v.weight", {256, 128}) == DType::kQ3_K);
  CHECK(type_of(Mix::kIQ4_XS, kTinyLlama, "blk.3.attn_v.weight", {2048, 256}) == DType::kQ5_K);
  CHECK(type_of(Mix::kIQ4_XS, kTinyLlama, "blk.1.ffn_down.weight", {5632, 2048}) == DType::kQ5_K);
  CHECK(type_of(Mix::kIQ4_XS, kTinyLlama, "blk.2.ffn_down.weight", {5632, 2048}) == DType::kIQ4_XS);
}

TEST_CASE("rows that fit no super-block fall back, then to F16; tied embeddings are the output") {
  const ModelShape s{5, 8, 4, true};
  CHECK(type_of(Mix::kQ3_K_M, s, "blk.0.attn_q.weight", {64, 64}) == DType::kQ4_0);
  CHECK(type_of(Mix::kQ2_K, s, "blk.0.attn_q.weight", {64, 64}) == DType::kQ4_0);
  CHECK(type_of(Mix::kQ4_K_M, s, "blk.0.attn_q.weight", {64, 64}) == DType::kQ5_0);
  CHECK(type_of(Mix::kQ5_K_M, s, "blk.0.attn_q.weight", {64, 64}) == DType::kQ5_1);
  CHECK(type_of(Mix::kQ6_K, s, "blk.0.attn_q.weight", {64, 64}) == DType::kQ8_0);
  CHECK(type_of(Mix::kIQ4_XS, s, "blk.0.attn_q.weight", {64, 64}) == DType::kIQ4_NL);
  CHECK(type_of(Mix::kQ4_K_M, s, "blk.0.ffn_down.weight", {172, 64}) == DType::kF16);
  CHECK(type_of(Mix::kQ4_0, s, "output.weight", {64, 512}) == DType::kQ8_0);
  CHECK(type_of(Mix::kQ4_0, s, "output.weight", {256, 512}) == DType::kQ6_K);
  CHECK(type_of(Mix::kQ8_0, s, "output.weight", {256, 512}) == DType::kQ8_0);
  const ModelShape tied{5, 8, 4, false};
  CHECK(type_of(Mix::kQ4_0, tied, "token_embd.weight", {256, 512}) == DType::kQ6_K);
}

}  // namespace
}  // namespace llmos::quantize
