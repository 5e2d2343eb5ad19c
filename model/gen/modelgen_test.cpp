// The synthesizer writes a loadable llama GGUF in every weight type: the keys,
// tensor shapes and types llama.cpp expects, a well-formed byte-level vocabulary,
// finite values near the intended scale, and identical bytes for the same seed.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/modelgen/model_gen.hpp"
#include "llmos/modelgen/synthetic_vocab.hpp"
#include "temp_dir.hpp"

namespace llmos::modelgen {
namespace {

using gguf::GgufFile;

using llmos::testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ModelSpec tiny(DType type, uint64_t seed = 7) {
  auto s = preset_spec("tiny");
  REQUIRE(s.ok());
  s->type = type;
  s->seed = seed;
  return *s;
}

TEST_CASE("a mix gives each weight llama-quantize's type and matches the f32 model closely") {
  TempDir dir;
  ModelSpec f32 = tiny(DType::kF32);
  f32.dim = 256, f32.ffn_dim = 512, f32.n_layers = 4;  // rows of 256 fit the super-blocks
  ModelSpec mixed = f32;
  mixed.mix = quantize::Mix::kQ4_K_M;
  REQUIRE(write_model(f32, dir.file("f32.gguf")).ok());
  auto size = write_model(mixed, dir.file("q4_k_m.gguf"));
  REQUIRE_MESSAGE(size.ok(), size.status().to_string());
  auto a = GgufFile::open(dir.file("f32.gguf"));
  auto b = GgufFile::open(dir.file("q4_k_m.gguf"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*(*b)->get_uint("general.file_type") == 15);
  CHECK(*(*b)->get_uint("general.quantization_version") == 2);
  CHECK(weight_bytes(mixed) == (*b)->total_tensor_bytes());
  CHECK((*b)->find_tensor("output.weight")->type == DType::kQ6_K);
  CHECK((*b)->find_tensor("blk.0.attn_q.weight")->type == DType::kQ4_K);
  CHECK((*b)->find_tensor("blk.1.attn_v.weight")->type == DType::kQ4_K);
  CHECK((*b)->find_tensor("blk.2.attn_v.weight")->type == DType::kQ6_K);
  CHECK((*b)->find_tensor("blk.3.ffn_down.weight")->type == DType::kQ6_K);
  CHECK((*b)->find_tensor("blk.0.attn_norm.weight")->type == DType::kF32);
  for (const auto& t : (*a)->tensors()) {  // same seeded values, quantized: Q4_K error ~ 0.1 * std
    CAPTURE(t.name);
    const auto* q = (*b)->find_tensor(t.name);
    REQUIRE(q != nullptr);
    const int64_t cols = t.dims[0];
    std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(cols));
    double err = 0, ref = 0;
    for (int64_t r = 0; r < t.n_elements / cols; ++r) {
      dequantize_row(t.type, static_cast<const uint8_t*>(t.data) + size_t(r * cols) * 4, x.data(), cols);
      dequantize_row(q->type, static_cast<const uint8_t*>(q->data) + size_t(r * dtype_row_bytes(q->type, cols)),
                     y.data(), cols);
      for (int64_t i = 0; i < cols; ++i) {
        err += (double(x[size_t(i)]) - y[size_t(i)]) * (double(x[size_t(i)]) - y[size_t(i)]);
        ref += double(x[size_t(i)]) * x[size_t(i)];
      }
    }
    CHECK(std::sqrt(err / ref) < (q->type == DType::kF32 ? 1e-7 : 0.12));
  }
}

TEST_CASE("a tiny model in every weight type reopens with the llama keys and shapes") {
  TempDir dir;
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    CAPTURE(dtype_name(type));
    const ModelSpec spec = tiny(type);
    const std::string path = dir.file("tiny-" + std::string(dtype_name(type)) + ".gguf");
    auto size = write_model(spec, path);
    REQUIRE_MESSAGE(size.ok(), size.status().to_string());
    auto opened = GgufFile::open(path);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    const GgufFile& f = **opened;
    CHECK(f.file_size() == *size);
    CHECK(f.version() == 3);
    CHECK(*f.get_string("general.architecture") == "llama");
    CHECK(*f.get_string("general.name") == "llmos-synthetic-tiny");
    CHECK(*f.get_uint("general.file_type") == ggml_file_type(type));
    CHECK(*f.get_uint("general.alignment") == 32);
    CHECK(*f.get_uint("llama.context_length") == 256);
    CHECK(*f.get_uint("llama.embedding_length") == 64);
    CHECK(*f.get_uint("llama.block_count") == 2);
    CHECK(*f.get_uint("llama.feed_forward_length") == 192);
    CHECK(*f.get_uint("llama.rope.dimension_count") == 16);
    CHECK(*f.get_uint("llama.attention.head_count") == 4);
    CHECK(*f.get_uint("llama.attention.head_count_kv") == 2);
    CHECK(*f.get_float("llama.attention.layer_norm_rms_epsilon") == 1e-5f);
    CHECK(*f.get_float("llama.rope.freq_base") == 10000.0f);
    CHECK(*f.get_string("tokenizer.ggml.model") == "llama");
    CHECK(*f.get_uint("tokenizer.ggml.bos_token_id") == 1);
    CHECK(*f.get_uint("tokenizer.ggml.eos_token_id") == 2);
    CHECK(*f.get_uint("tokenizer.ggml.unknown_token_id") == 0);
    CHECK(*f.get_bool("tokenizer.ggml.add_bos_token"));
    CHECK(f.get_string_array("tokenizer.ggml.tokens")->size() == 512);
    CHECK(f.get_float_array("tokenizer.ggml.scores")->size() == 512);
    CHECK(f.get_int_array("tokenizer.ggml.token_type")->size() == 512);

    CHECK(f.tensors().size() == 3 + 2 * 9);
    struct Expect {
      const char* name;
      std::vector<int64_t> dims;
      bool norm;
    };
    const Expect expect[] = {
        {"token_embd.weight", {64, 512}, false},   {"output_norm.weight", {64}, true},
        {"output.weight", {64, 512}, false},       {"blk.1.attn_norm.weight", {64}, true},
        {"blk.1.attn_q.weight", {64, 64}, false},  {"blk.1.attn_k.weight", {64, 32}, false},
        {"blk.1.attn_v.weight", {64, 32}, false},  {"blk.1.attn_output.weight", {64, 64}, false},
        {"blk.1.ffn_norm.weight", {64}, true},     {"blk.1.ffn_gate.weight", {64, 192}, false},
        {"blk.1.ffn_up.weight", {64, 192}, false}, {"blk.1.ffn_down.weight", {192, 64}, false},
    };
    for (const Expect& e : expect) {
      CAPTURE(e.name);
      const gguf::TensorInfo* t = f.find_tensor(e.name);
      REQUIRE(t != nullptr);
      CHECK(t->dims == e.dims);
      CHECK(t->type == (e.norm ? DType::kF32 : type));
      // Values are finite and at the intended scale: gains near 1, weights std ~0.02.
      std::vector<float> x(size_t(t->n_elements));
      const int64_t cols = t->dims[0];
      const size_t row_bytes = size_t(dtype_row_bytes(t->type, cols));
      for (int64_t r = 0; r < t->n_elements / cols; ++r)
        dequantize_row(t->type, static_cast<const uint8_t*>(t->data) + size_t(r) * row_bytes,
                       x.data() + r * cols, cols);
      double sum = 0, sum2 = 0;
      size_t non_finite = 0;
      for (float v : x) {
        non_finite += !std::isfinite(v);
        sum += v;
        sum2 += double(v) * v;
      }
      REQUIRE(non_finite == 0);
      const double mean = sum / double(x.size());
      const double std = std::sqrt(std::max(0.0, sum2 / double(x.size()) - mean * mean));
      CHECK(std::abs(mean - (e.norm ? 1.0 : 0.0)) < 0.01);
      CHECK(std > 0.01);
      CHECK(std < 0.03);
    }
  }
}

TEST_CASE("the same seed writes the same bytes; another seed does not") {
  TempDir dir;
  REQUIRE(write_model(tiny(DType::kQ4_0, 42), dir.file("a.gguf")).ok());
  REQUIRE(write_model(tiny(DType::kQ4_0, 42), dir.file("b.gguf")).ok());
  REQUIRE(write_model(tiny(DType::kQ4_0, 43), dir.file("c.gguf")).ok());
  const std::string a = slurp(dir.file("a.gguf"));
  CHECK(a == slurp(dir.file("b.gguf")));
  CHECK(a.size() == slurp(dir.file("c.gguf")).size());
  CHECK(a != slurp(dir.file("c.gguf")));
}

TEST_CASE("the synthetic vocabulary is byte-level SentencePiece with distinct pieces") {
  for (int n : {259, 512, 32000}) {
    CAPTURE(n);
    const SyntheticVocab v = make_synthetic_vocab(n);
    REQUIRE(v.tokens.size() == size_t(n));
    REQUIRE(v.scores.size() == size_t(n));
    REQUIRE(v.types.size() == size_t(n));
    CHECK(v.tokens[0] == "<unk>");
    CHECK(v.types[0] == kTokenUnknown);
    CHECK(v.tokens[1] == "<s>");
    CHECK(v.types[1] == kTokenControl);
    CHECK(v.tokens[2] == "</s>");
    CHECK(v.types[2] == kTokenControl);
    CHECK(v.tokens[3] == "<0x00>");
    CHECK(v.tokens[3 + 0x41] == "<0x41>");
    CHECK(v.tokens[258] == "<0xFF>");
    int wrong_types = 0, unordered_scores = 0;
    for (int i = 3; i < 259; ++i) wrong_types += v.types[size_t(i)] != kTokenByte;
    for (int i = 259; i < n; ++i) {
      wrong_types += v.types[size_t(i)] != kTokenNormal;
      unordered_scores += i > 259 && !(v.scores[size_t(i)] < v.scores[size_t(i) - 1]);
    }
    CHECK(wrong_types == 0);
    CHECK(unordered_scores == 0);
    CHECK(std::set<std::string>(v.tokens.begin(), v.tokens.end()).size() == size_t(n));
    if (n > 259) CHECK(v.tokens[259] == "\xe2\x96\x81");
  }
}

TEST_CASE("bad shapes are refused with a message naming the field") {
  ModelSpec s = tiny(DType::kQ4_0);
  s.ffn_dim = 172;
  Status st = validate_spec(s);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message().find("ffn 172") != std::string::npos);
  s = tiny(DType::kF32);
  s.ffn_dim = 172;
  CHECK(validate_spec(s).ok());
  s.n_heads = 3;
  CHECK(validate_spec(s).message().find("heads 3") != std::string::npos);
  s = tiny(DType::kF32);
  s.n_kv_heads = 3;
  CHECK_FALSE(validate_spec(s).ok());
  s = tiny(DType::kF32);
  s.vocab_size = 100;
  CHECK(validate_spec(s).message().find("vocab 100") != std::string::npos);
  CHECK_FALSE(write_model(s, "/tmp/never-written.gguf").ok());
  CHECK_FALSE(preset_spec("7b").ok());
  CHECK_FALSE(parse_weight_type("q4_k").ok());
  CHECK(*parse_weight_type("q8_0") == DType::kQ8_0);
}

TEST_CASE("the presets have the documented shapes") {
  const auto m110 = preset_spec("110m");
  REQUIRE(m110.ok());
  CHECK(m110->dim == 768);
  CHECK(m110->n_layers == 12);
  CHECK(m110->n_kv_heads == 12);
  const auto b1 = preset_spec("1b");
  REQUIRE(b1.ok());
  CHECK(b1->n_kv_heads == 4);
  CHECK(b1->ffn_dim == 5632);
  ModelSpec q = *b1;
  q.type = DType::kQ4_0;
  CHECK(validate_spec(q).ok());
  // ~1.1 B parameters at 18 bytes per 32: about 0.6 GB.
  CHECK(weight_bytes(q) > 550'000'000ull);
  CHECK(weight_bytes(q) < 700'000'000ull);
}

TEST_CASE("the qwen3 presets: Qwen3-0.6B's layer shapes, and a mixture of 8 experts with 2 used") {
  const auto q3 = preset_spec("qwen3-0.6b");
  REQUIRE(q3.ok());
  CHECK(q3->architecture == "qwen3");
  CHECK(q3->head_dim() == 128);
  CHECK(q3->n_heads * q3->head_dim() == 2 * q3->dim);  // q wider than the model, as in Qwen3
  CHECK(q3->tied_output);
  CHECK(validate_spec(*q3).ok());
  ModelSpec q = *q3;
  q.type = DType::kQ8_0;  // ~0.54 B parameters (100000-token vocabulary) at 34 bytes per 32
  CHECK(weight_bytes(q) > 540'000'000ull);
  CHECK(weight_bytes(q) < 620'000'000ull);
  const auto moe = preset_spec("qwen3moe-small");
  REQUIRE(moe.ok());
  CHECK(moe->architecture == "qwen3moe");
  CHECK(moe->n_experts == 8);
  CHECK(moe->n_experts_used == 2);
  CHECK(validate_spec(*moe).ok());
  ModelSpec bad = *moe;
  bad.n_experts_used = 9;
  CHECK(validate_spec(bad).message().find("experts used 9") != std::string::npos);
  bad = *q3;
  bad.n_experts = 4;
  CHECK(validate_spec(bad).message().find("experts 4") != std::string::npos);
  bad.architecture = "gpt2";
  CHECK(validate_spec(bad).message().find("'gpt2'") != std::string::npos);
}

TEST_CASE("an unwritable path fails naming it") {
  auto r = write_model(tiny(DType::kF32), "/nonexistent-llmos-dir/m.gguf");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kFailed);
  CHECK(r.status().message().find("/nonexistent-llmos-dir/m.gguf") != std::string::npos);
}

}  // namespace
}  // namespace llmos::modelgen
