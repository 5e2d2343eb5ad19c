// GgufWriter -> GgufFile round trips, typed getters and their errors, and the
// known facts of the shared stories260K model.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "gguf_test_util.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_text.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::gguf {
namespace {

using testing::TempDir;

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 7);
  return b;
}

TEST_CASE("every metadata type round-trips through the writer and reader") {
  TempDir dir;
  const std::string path = dir.file("all_types.gguf");
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_uint8("t.u8", 200);
  w.add_int8("t.i8", -100);
  w.add_uint16("t.u16", 60000);
  w.add_int16("t.i16", -30000);
  w.add_uint32("t.u32", 4000000000u);
  w.add_int32("t.i32", -2000000000);
  w.add_uint64("t.u64", 18000000000000000000ull);
  w.add_int64("t.i64", -9000000000000000000ll);
  w.add_float32("t.f32", 1e-5f);
  w.add_float64("t.f64", 2.5);
  w.add_bool("t.bool", true);
  w.add_string("t.str", "h\xc3\xa9llo \xe2\x96\x81world");
  w.add_string("t.empty_str", "");
  w.add_array("t.arr_u8", std::vector<uint8_t>{1, 2, 255});
  w.add_array("t.arr_i8", std::vector<int8_t>{-1, 2});
  w.add_array("t.arr_u16", std::vector<uint16_t>{65535});
  w.add_array("t.arr_i16", std::vector<int16_t>{-5, 5});
  w.add_array("t.arr_u32", std::vector<uint32_t>{7, 8, 9});
  w.add_array("t.arr_i32", std::vector<int32_t>{-7, 0, 2147483647});
  w.add_array("t.arr_u64", std::vector<uint64_t>{uint64_t{1} << 40});
  w.add_array("t.arr_i64", std::vector<int64_t>{-3});
  w.add_array("t.arr_f32", std::vector<float>{0.5f, -1.25f});
  w.add_array("t.arr_f64", std::vector<double>{0.25, 4.0});
  w.add_bool_array("t.arr_bool", {true, false, true});
  const std::vector<std::string> strs = {"<unk>", "", "\xe2\x96\x81the"};
  w.add_string_array("t.arr_str", strs);
  w.add_array("t.arr_empty", std::vector<float>{});
  w.add_tensor_from_f32("x", DType::kF32, {4}, std::vector<float>{1, 2, 3, 4});
  auto written = w.write(path);
  REQUIRE_MESSAGE(written.ok(), written.status().to_string());
  CHECK(*written == std::filesystem::file_size(path));
  CHECK_FALSE(std::filesystem::exists(path + ".partial"));

  auto opened = GgufFile::open(path);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  const GgufFile& f = **opened;
  CHECK(f.version() == 3);
  CHECK(f.path() == path);
  CHECK(f.file_size() == *written);
  CHECK(f.alignment() == 32);
  CHECK(*f.get_string("general.architecture") == "llama");
  CHECK(*f.get_uint("t.u8") == 200);
  CHECK(*f.get_int("t.i8") == -100);
  CHECK(*f.get_uint("t.u16") == 60000);
  CHECK(*f.get_int("t.i16") == -30000);
  CHECK(*f.get_uint("t.u32") == 4000000000u);
  CHECK(*f.get_int("t.u32") == 4000000000ll);
  CHECK(*f.get_int("t.i32") == -2000000000);
  CHECK(*f.get_uint("t.u64") == 18000000000000000000ull);
  CHECK(*f.get_int("t.i64") == -9000000000000000000ll);
  CHECK(*f.get_float("t.f32") == 1e-5f);
  CHECK(*f.get_float("t.f64") == 2.5f);
  CHECK(*f.get_bool("t.bool") == true);
  CHECK(*f.get_string("t.str") == "h\xc3\xa9llo \xe2\x96\x81world");
  CHECK(f.get_string("t.empty_str")->empty());
  CHECK(*f.get_int_array("t.arr_u8") == std::vector<int32_t>{1, 2, 255});
  CHECK(*f.get_int_array("t.arr_i8") == std::vector<int32_t>{-1, 2});
  CHECK(*f.get_int_array("t.arr_u16") == std::vector<int32_t>{65535});
  CHECK(*f.get_int_array("t.arr_i16") == std::vector<int32_t>{-5, 5});
  CHECK(*f.get_int_array("t.arr_u32") == std::vector<int32_t>{7, 8, 9});
  CHECK(*f.get_int_array("t.arr_i32") == std::vector<int32_t>{-7, 0, 2147483647});
  CHECK(*f.get_int_array("t.arr_i64") == std::vector<int32_t>{-3});
  CHECK(*f.get_float_array("t.arr_f32") == std::vector<float>{0.5f, -1.25f});
  CHECK(*f.get_float_array("t.arr_f64") == std::vector<float>{0.25f, 4.0f});
  CHECK(f.get_float_array("t.arr_empty")->empty());
  auto strings = f.get_string_array("t.arr_str");
  REQUIRE(strings.ok());
  REQUIRE(strings->size() == 3);
  CHECK((*strings)[0] == "<unk>");
  CHECK((*strings)[1].empty());
  CHECK((*strings)[2] == "\xe2\x96\x81the");

  auto bools = f.get_array_items("t.arr_bool", 10);
  REQUIRE(bools.ok());
  REQUIRE(bools->size() == 3);
  CHECK(std::get<bool>((*bools)[0]));
  CHECK_FALSE(std::get<bool>((*bools)[1]));
  auto u64s = f.get_array_items("t.arr_u64", 10);
  REQUIRE(u64s.ok());
  CHECK(std::get<uint64_t>((*u64s)[0]) == uint64_t{1} << 40);
  CHECK(std::get<std::string_view>(*f.get_scalar("t.str")) == "h\xc3\xa9llo \xe2\x96\x81world");

  // Metadata comes back in file order, with general.alignment added by the writer.
  const auto& md = f.metadata();
  REQUIRE(md.size() == 28);
  CHECK(md[0].key == "general.architecture");
  CHECK(md[1].key == "t.u8");
  CHECK(md.back().key == "general.alignment");
  const MetadataEntry* arr = f.find_metadata("t.arr_u32");
  REQUIRE(arr != nullptr);
  CHECK(GgufFile::type_string(*arr) == "array[uint32]");
  CHECK(arr->array_length == 3);
  CHECK(f.format_value(*arr) == "[uint32 x 3] [7, 8, 9]");
  CHECK(f.format_value(*arr, 2) == "[uint32 x 3] [7, 8, ...]");
  CHECK(f.format_value(*f.find_metadata("t.f32")) == "1e-05");
  CHECK(f.format_value(*f.find_metadata("t.bool")) == "true");
  CHECK(f.format_value(*f.find_metadata("general.architecture")) == "\"llama\"");
  CHECK(f.format_value(*f.find_metadata("t.arr_str")) == "[string x 3] [\"<unk>\", \"\", \"\xe2\x96\x81the\"]");
}

TEST_CASE("getters report a missing key or a wrong type naming the file and key") {
  TempDir dir;
  const std::string path = dir.file("getters.gguf");
  GgufWriter w;
  w.add_string("general.name", "m");
  w.add_int32("neg", -4);
  w.add_uint64("huge", ~uint64_t{0});
  w.add_array("big_ints", std::vector<uint32_t>{1, 3000000000u});
  REQUIRE(w.write(path).ok());
  auto opened = GgufFile::open(path);
  REQUIRE(opened.ok());
  const GgufFile& f = **opened;

  CHECK_FALSE(f.has("llama.block_count"));
  auto missing = f.get_uint("llama.block_count");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  CHECK(missing.status().message() == path + ": missing required key 'llama.block_count'");

  auto wrong = f.get_uint("general.name");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == ErrorCode::kInvalidArgument);
  CHECK(wrong.status().message() ==
        path + ": key 'general.name' has type string, expected an unsigned integer");
  CHECK(f.get_float("general.name").status().message() ==
        path + ": key 'general.name' has type string, expected float32");
  CHECK(f.get_string_array("big_ints").status().message() ==
        path + ": key 'big_ints' has type array[uint32], expected array[string]");
  CHECK(f.get_string("big_ints").status().code() == ErrorCode::kInvalidArgument);
  CHECK(f.get_bool("neg").status().code() == ErrorCode::kInvalidArgument);
  CHECK(f.get_float_array("big_ints").status().code() == ErrorCode::kInvalidArgument);
  CHECK(f.get_scalar("big_ints").status().code() == ErrorCode::kInvalidArgument);
  CHECK(f.get_array_items("neg", 3).status().code() == ErrorCode::kInvalidArgument);

  CHECK(*f.get_int("neg") == -4);
  auto negative = f.get_uint("neg");
  REQUIRE_FALSE(negative.ok());
  CHECK(contains(negative.status().message(), "'neg' is -4"));
  CHECK_FALSE(f.get_int("huge").ok());
  CHECK(*f.get_uint("huge") == ~uint64_t{0});
  auto too_big = f.get_int_array("big_ints");
  REQUIRE_FALSE(too_big.ok());
  CHECK(contains(too_big.status().message(), "element 1 = 3000000000 does not fit int32"));
}

TEST_CASE("tensors of every supported type round-trip with aligned offsets") {
  for (uint32_t alignment : {32u, 64u, 4096u}) {
    CAPTURE(alignment);
    TempDir dir;
    const std::string path = dir.file("tensors.gguf");
    GgufWriter w(alignment);
    w.add_string("general.architecture", "llama");
    struct Spec {
      std::string name;
      DType type;
      std::vector<int64_t> dims;
    };
    const std::vector<Spec> specs = {
        {"a.f32", DType::kF32, {3}},           {"b.f16", DType::kF16, {5, 3}},
        {"c.bf16", DType::kBF16, {2, 2, 2}},   {"d.q8_0", DType::kQ8_0, {64, 3}},
        {"e.q4_0", DType::kQ4_0, {32, 2, 1, 3}}, {"f.q4_k", DType::kQ4_K, {256, 3}},
        {"g.q5_1", DType::kQ5_1, {64, 1}},      {"h.q6_k", DType::kQ6_K, {512, 2}},
        {"i.iq4_xs", DType::kIQ4_XS, {256, 1}}, {"j.q3_k", DType::kQ3_K, {256, 5}},
    };
    std::vector<std::vector<uint8_t>> data;
    for (size_t i = 0; i < specs.size(); ++i) {
      data.push_back(pattern_bytes(tensor_bytes(specs[i].type, specs[i].dims), uint8_t(i * 31)));
      w.add_tensor(specs[i].name, specs[i].type, specs[i].dims, data.back());
    }
    REQUIRE(w.write(path).ok());
    auto opened = GgufFile::open(path);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    const GgufFile& f = **opened;
    CHECK(f.alignment() == alignment);
    CHECK(f.data_offset() % alignment == 0);
    REQUIRE(f.tensors().size() == specs.size());
    uint64_t total = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      const TensorInfo& t = f.tensors()[i];
      CHECK(t.name == specs[i].name);
      CHECK(t.type == specs[i].type);
      CHECK(t.dims == specs[i].dims);
      CHECK(t.n_bytes == data[i].size());
      CHECK(t.offset % alignment == 0);
      CHECK(t.offset >= f.data_offset());
      CHECK(std::memcmp(t.data, data[i].data(), data[i].size()) == 0);
      CHECK(f.find_tensor(specs[i].name) == &t);
      total += t.n_bytes;
    }
    CHECK(f.tensors()[4].n_elements == 32 * 2 * 3);
    CHECK(f.total_tensor_bytes() == total);
    CHECK(f.find_tensor("nope") == nullptr);
  }
}

TEST_CASE("tensor data streams from callbacks and is quantized from f32") {
  TempDir dir;
  const std::string path = dir.file("stream.gguf");
  GgufWriter w;
  const int64_t cols = 64, rows = 100;
  w.add_tensor("streamed", DType::kF32, {cols, rows}, [&](TensorDataSink& sink) -> Status {
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) row[c] = float(r * cols + c);
      LLMOS_RETURN_IF_ERROR(sink.write(row.data(), row.size() * sizeof(float)));
    }
    return ok_status();
  });
  std::vector<float> values(64 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(float(i)) * 0.1f;
  w.add_tensor_from_f32("quantized", DType::kQ8_0, {64, 2}, values);
  REQUIRE(w.write(path).ok());
  auto opened = GgufFile::open(path);
  REQUIRE(opened.ok());
  const TensorInfo* s = (*opened)->find_tensor("streamed");
  REQUIRE(s != nullptr);
  const float* sf = static_cast<const float*>(s->data);
  CHECK(sf[0] == 0.0f);
  CHECK(sf[cols * rows - 1] == float(cols * rows - 1));
  const TensorInfo* q = (*opened)->find_tensor("quantized");
  REQUIRE(q != nullptr);
  std::vector<float> back(values.size());
  dequantize_row(DType::kQ8_0, q->data, back.data(), int64_t(back.size()));
  for (size_t i = 0; i < values.size(); ++i) CHECK(back[i] == doctest::Approx(values[i]).epsilon(0.01));
}

TEST_CASE("a failing or short data callback fails the write and leaves no file") {
  TempDir dir;
  const std::string path = dir.file("short.gguf");
  GgufWriter short_writer;
  short_writer.add_tensor("t", DType::kF32, {8}, [](TensorDataSink& sink) {
    const float x[4] = {};
    return sink.write(x, sizeof(x));
  });
  auto r = short_writer.write(path);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.status().message(), "'t'"));
  CHECK(contains(r.status().message(), "wrote 16 of 32 bytes"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".partial"));

  GgufWriter long_writer;
  long_writer.add_tensor("t", DType::kF32, {1}, [](TensorDataSink& sink) {
    const float x[2] = {};
    return sink.write(x, sizeof(x));
  });
  CHECK_FALSE(long_writer.write(path).ok());
  CHECK_FALSE(std::filesystem::exists(path));

  GgufWriter failing;
  failing.add_tensor("t", DType::kF32, {1}, [](TensorDataSink&) { return failed("no data today"); });
  auto f = failing.write(path);
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().message() == path + ": writing tensor 't': no data today");
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("writing to an unwritable path fails naming it") {
  GgufWriter w;
  const std::string path = "/nonexistent-llmos-dir/model.gguf";
  auto r = w.write(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kFailed);
  CHECK(contains(r.status().message(), path));
}

TEST_CASE("an empty model (no tensors, no keys) is valid") {
  TempDir dir;
  const std::string path = dir.file("empty_model.gguf");
  REQUIRE(GgufWriter().write(path).ok());
  auto opened = GgufFile::open(path);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  CHECK((*opened)->tensors().empty());
  CHECK((*opened)->metadata().size() == 1);  // general.alignment
}

TEST_CASE("names and strings from a file are escaped for printing") {
  CHECK(escape_text("blk.0.attn_q.weight") == "blk.0.attn_q.weight");
  CHECK(escape_text("\xe2\x96\x81the") == "\xe2\x96\x81the");  // valid UTF-8 is kept
  CHECK(escape_text("a\xff\"b\n\x01") == "a\\xff\\\"b\\n\\x01");
  CHECK(escape_text("\xe2\x96") == "\\xe2\\x96");  // a cut UTF-8 sequence is not
  CHECK(escape_text("\xc0\xaf") == "\\xc0\\xaf");  // nor an overlong one
  CHECK(escape_text("abcdef", 3) == "abc...");
  CHECK(quoted("it's") == "'it\\'s'");
}

TEST_CASE("stories260K.gguf opens with its known shape" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  const std::string path = shared + "/models/stories260K.gguf";
  if (shared.empty() || !std::filesystem::exists(path)) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  auto opened = GgufFile::open(path);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  const GgufFile& f = **opened;
  CHECK(f.version() == 3);
  CHECK(*f.get_string("general.architecture") == "llama");
  CHECK(*f.get_uint("llama.block_count") == 5);
  CHECK(*f.get_uint("llama.embedding_length") == 64);
  CHECK(*f.get_uint("llama.attention.head_count") == 8);
  CHECK(*f.get_uint("llama.attention.head_count_kv") == 4);
  CHECK(*f.get_uint("llama.context_length") == 512);
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.ok());
  CHECK(tokens->size() == 512);
  CHECK((*tokens)[1] == "<s>");
  CHECK(f.get_float_array("tokenizer.ggml.scores")->size() == 512);
  CHECK(f.get_int_array("tokenizer.ggml.token_type")->size() == 512);
  const TensorInfo* embd = f.find_tensor("token_embd.weight");
  REQUIRE(embd != nullptr);
  CHECK(embd->dims == std::vector<int64_t>{64, 512});
  CHECK(embd->type == DType::kF32);
  CHECK(f.find_tensor("blk.4.ffn_down.weight") != nullptr);
  CHECK(f.find_tensor("blk.5.ffn_down.weight") == nullptr);
  CHECK(f.total_tensor_bytes() <= f.file_size());
}

}  // namespace
}  // namespace llmos::gguf
