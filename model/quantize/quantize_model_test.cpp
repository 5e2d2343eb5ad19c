// quantize_model on small files written here: every metadata value type is
// copied unchanged, matrices get the mix's types and round-trip closely, and bad
// inputs (no file, not GGUF, already-quantized weights, unwritable output) give
// one clear error naming the file or tensor. The comparison with llama.cpp's own
// quantizations is quantize_golden_test.cpp.
#include "llmos/quantize/quantize_model.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "temp_dir.hpp"

namespace llmos::quantize {
namespace {

using llmos::testing::TempDir;

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A two-layer llama-shaped file: rows of 256, every metadata value type.
std::string write_source(const TempDir& dir, DType matrix_type, const std::string& name = "src.gguf") {
  gguf::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_uint32("general.file_type", 0);
  w.add_uint32("llama.block_count", 2);
  w.add_uint32("llama.attention.head_count", 4);
  w.add_uint32("llama.attention.head_count_kv", 4);
  w.add_uint8("test.u8", 7);
  w.add_int8("test.i8", -7);
  w.add_uint16("test.u16", 700);
  w.add_int16("test.i16", -700);
  w.add_int32("test.i32", -70000);
  w.add_uint64("test.u64", uint64_t(1) << 40);
  w.add_int64("test.i64", -(int64_t(1) << 40));
  w.add_float32("test.f32", 0.25f);
  w.add_float64("test.f64", -1.5);
  w.add_bool("test.bool", true);
  w.add_array("test.arr_i32", std::vector<int32_t>{1, -2, 3});
  w.add_array("test.arr_f32", std::vector<float>{0.5f, 1.5f});
  w.add_array("test.arr_u8", std::vector<uint8_t>{1, 2});
  w.add_bool_array("test.arr_bool", {true, false, true});
  const std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "hello"};
  w.add_string_array("tokenizer.ggml.tokens", std::span<const std::string>(tokens));
  const int64_t dim = 256;
  w.add_tensor_from_f32("token_embd.weight", matrix_type, {dim, 64}, gaussian(size_t(dim * 64), 1));
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.add_tensor_from_f32(p + "attn_norm.weight", DType::kF32, {dim}, std::vector<float>(size_t(dim), 1.0f));
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"})
      w.add_tensor_from_f32(p + m + ".weight", matrix_type, {dim, dim}, gaussian(size_t(dim * dim), uint32_t(l * 10 + m[5])));
    w.add_tensor_from_f32(p + "ffn_down.weight", matrix_type, {dim, dim}, gaussian(size_t(dim * dim), uint32_t(l + 99)));
  }
  w.add_tensor_from_f32("output.weight", matrix_type, {dim, 64}, gaussian(size_t(dim * 64), 2));
  const std::string path = dir.file(name);
  REQUIRE(w.write(path).ok());
  return path;
}

std::vector<float> values(const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements));
  const int64_t cols = t.dims[0];
  for (int64_t r = 0; r < t.n_elements / cols; ++r)
    dequantize_row(t.type, static_cast<const uint8_t*>(t.data) + size_t(r * dtype_row_bytes(t.type, cols)),
                   out.data() + size_t(r * cols), cols);
  return out;
}

TEST_CASE("a BF16 model quantized to q4_k_m keeps every metadata value and is close to the source") {
  TempDir dir;
  const std::string src = write_source(dir, DType::kBF16);
  auto summary = quantize_model(src, dir.file("out.gguf"), QuantizeOptions{Mix::kQ4_K_M, 3, {}});
  REQUIRE_MESSAGE(summary.ok(), summary.status().message());
  auto in = gguf::GgufFile::open(src);
  auto out = gguf::GgufFile::open(dir.file("out.gguf"));
  REQUIRE(in.ok());
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK((*out)->file_size() == summary->file_bytes);
  for (const auto& e : (*in)->metadata()) {
    CAPTURE(e.key);
    const auto* o = (*out)->find_metadata(e.key);
    REQUIRE(o != nullptr);
    if (e.key == "general.file_type") continue;
    CHECK(o->type == e.type);
    CHECK(o->array_type == e.array_type);
    CHECK((*out)->format_value(*o, 10) == (*in)->format_value(e, 10));
  }
  CHECK(*(*out)->get_uint("general.file_type") == 15);
  CHECK((*out)->find_tensor("output.weight")->type == DType::kQ6_K);
  CHECK((*out)->find_tensor("blk.0.attn_q.weight")->type == DType::kQ4_K);
  CHECK((*out)->find_tensor("blk.1.attn_v.weight")->type == DType::kQ6_K);  // the last layer
  CHECK((*out)->find_tensor("blk.0.attn_norm.weight")->type == DType::kF32);
  for (const auto& t : (*in)->tensors()) {
    CAPTURE(t.name);
    const auto x = values(t), y = values(*(*out)->find_tensor(t.name));
    double e = 0, r = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
      r += double(x[i]) * x[i];
    }
    CHECK(std::sqrt(e / r) < 0.12);
  }
}

TEST_CASE("the thread count does not change the bytes") {
  TempDir dir;
  const std::string src = write_source(dir, DType::kF32);
  REQUIRE(quantize_model(src, dir.file("a.gguf"), QuantizeOptions{Mix::kIQ4_XS, 1, {}}).ok());
  REQUIRE(quantize_model(src, dir.file("b.gguf"), QuantizeOptions{Mix::kIQ4_XS, 4, {}}).ok());
  std::ifstream a(dir.file("a.gguf"), std::ios::binary), b(dir.file("b.gguf"), std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(a), {}) == std::string(std::istreambuf_iterator<char>(b), {}));
}

TEST_CASE("bad inputs give one error naming the file or the tensor") {
  TempDir dir;
  const QuantizeOptions opt{Mix::kQ4_K_M, 1, {}};
  SUBCASE("no such file") {
    auto r = quantize_model(dir.file("missing.gguf"), dir.file("out.gguf"), opt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("missing.gguf") != std::string::npos);
  }
  SUBCASE("not GGUF") {
    std::ofstream(dir.file("text.gguf")) << "this is not a model file, just some text\n";
    auto r = quantize_model(dir.file("text.gguf"), dir.file("out.gguf"), opt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("text.gguf") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("out.gguf")));
  }
  SUBCASE("already quantized weights are not requantized") {
    const std::string src = write_source(dir, DType::kQ8_0, "q8.gguf");
    auto r = quantize_model(src, dir.file("out.gguf"), opt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("q8.gguf") != std::string::npos);
    CHECK(r.status().message().find("'token_embd.weight' is already q8_0") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("out.gguf")));
    // A mix that keeps them as they are copies them.
    auto same = quantize_model(src, dir.file("same.gguf"), QuantizeOptions{Mix::kQ8_0, 1, {}});
    CHECK_MESSAGE(same.ok(), same.status().message());
  }
  SUBCASE("an output that cannot be written") {
    const std::string src = write_source(dir, DType::kF32);
    auto r = quantize_model(src, dir.file("no/such/dir/out.gguf"), opt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("out.gguf") != std::string::npos);
  }
}

}  // namespace
}  // namespace llmos::quantize
