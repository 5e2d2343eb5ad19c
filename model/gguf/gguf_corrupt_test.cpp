// Hand-made corrupt GGUF files: a valid file from GgufWriter with one field patched
// (found by searching for its unique key or tensor name). Each must fail to open
// with one message naming the file and the problem; none may crash or read out of
// bounds (these tests run under ASan/UBSan).
#include <doctest/doctest.h>

#include <functional>

#include "gguf_test_util.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"

namespace llmos::gguf {
namespace {

using testing::peek;
using testing::poke;
using testing::TempDir;

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// The valid base file every case patches.
std::string base_file_bytes(const TempDir& dir) {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string("test.str", "hello");
  w.add_uint32("test.u32", 7);
  w.add_array("test.arr", std::vector<int32_t>{1, 2, 3});
  w.add_bool("test.bool", true);
  w.add_uint32("dup.keyA", 1);
  w.add_uint32("dup.keyB", 2);
  w.add_string_array("test.tokens", std::vector<std::string>{"a", "bb"});
  w.add_tensor("tensor.a", DType::kF32, {32, 2}, std::vector<uint8_t>(256, 1));
  w.add_tensor("tensor.b", DType::kQ8_0, {64, 2}, std::vector<uint8_t>(2 * 2 * 34, 2));
  w.add_tensor("tensor.c", DType::kF32, {4}, std::vector<uint8_t>(16, 3));
  const std::string path = dir.file("base.gguf");
  REQUIRE(w.write(path).ok());
  return testing::read_bytes(path);
}

// Offset of the unique `name` in the file, just past its 8-byte length prefix.
size_t find_name(const std::string& bytes, std::string_view name) {
  const size_t at = bytes.find(name);
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find(name, at + 1) == std::string::npos);
  return at;
}

// Offsets of a tensor info's fields.
struct TensorFields {
  size_t n_dims, dims, type, offset;
};
TensorFields tensor_fields(const std::string& bytes, std::string_view name) {
  const size_t n = find_name(bytes, name) + name.size();
  const uint32_t n_dims = peek<uint32_t>(bytes, n);
  return {n, n + 4, n + 4 + 8 * n_dims, n + 8 + 8 * n_dims};
}

struct CorruptCase {
  const char* what;
  std::function<void(std::string&)> patch;
  std::vector<std::string> expect;  // substrings of the error message
  ErrorCode code = ErrorCode::kInvalidArgument;
};

TEST_CASE("corrupt files fail to open with one message naming the file and the problem") {
  TempDir dir;
  const std::string base = base_file_bytes(dir);
  REQUIRE(GgufFile::open(dir.file("base.gguf")).ok());
  const auto key = [&](std::string& b, std::string_view k) { return find_name(b, k) + k.size(); };

  const std::vector<CorruptCase> cases = {
      {"bad magic", [](std::string& b) { b[0] = 'X'; }, {"bad magic 58 47 55 46 at offset 0"}},
      {"version 1", [](std::string& b) { poke<uint32_t>(b, 4, 1); },
       {"GGUF version 1 at offset 4 is not supported"}},
      {"version 4", [](std::string& b) { poke<uint32_t>(b, 4, 4); },
       {"GGUF version 4 at offset 4 is not supported"}},
      {"big-endian", [](std::string& b) { poke<uint32_t>(b, 4, 0x03000000); }, {"big-endian"}},
      {"truncated header", [](std::string& b) { b.resize(12); },
       {"truncated header", "at offset 8", "(size 12)"}},
      {"tiny file", [](std::string& b) { b.resize(3); }, {"3 bytes, too small"}},
      {"huge kv count", [](std::string& b) { poke<uint64_t>(b, 16, uint64_t{1} << 60); },
       {"metadata key count 1152921504606846976 at offset 16 is impossible"}},
      {"huge tensor count", [](std::string& b) { poke<uint64_t>(b, 8, uint64_t{1} << 40); },
       {"tensor count 1099511627776 at offset 8 is impossible"}},
      {"empty key", [&](std::string& b) { poke<uint64_t>(b, find_name(b, "test.u32") - 8, 0); },
       {"metadata key #2 at offset", "is empty"}},
      {"key length past EOF",
       [&](std::string& b) { poke<uint64_t>(b, find_name(b, "test.u32") - 8, uint64_t{1} << 50); },
       {"metadata key #2 at offset", "runs past end of file"}},
      {"string length past EOF",
       [&](std::string& b) { poke<uint64_t>(b, key(b, "test.str") + 4, uint64_t{1} << 40); },
       {"key 'test.str': string length 1099511627776 at offset", "runs past end of file"}},
      {"array length overflow",
       [&](std::string& b) { poke<uint64_t>(b, key(b, "test.arr") + 8, (uint64_t{1} << 62) + 1); },
       {"key 'test.arr': array of 4611686018427387905 int32 at offset",
        "needs more than 2^64 bytes, past end of file"}},
      {"string array length past EOF",
       [&](std::string& b) { poke<uint64_t>(b, key(b, "test.tokens") + 8, uint64_t{1} << 33); },
       {"key 'test.tokens': array of 8589934592 string", "cannot fit"}},
      {"unknown value type", [&](std::string& b) { poke<uint32_t>(b, key(b, "test.u32"), 13); },
       {"key 'test.u32' at offset", "has unknown value type 13"}},
      {"unknown array element type",
       [&](std::string& b) { poke<uint32_t>(b, key(b, "test.arr") + 4, 77); },
       {"key 'test.arr': array at offset", "unknown element type 77"}},
      {"array of arrays", [&](std::string& b) { poke<uint32_t>(b, key(b, "test.arr") + 4, 9); },
       {"key 'test.arr'", "arrays of arrays are not supported"}},
      {"bool not 0 or 1", [&](std::string& b) { b[key(b, "test.bool") + 4] = 5; },
       {"key 'test.bool': bool value 5 at offset", "is not 0 or 1"}},
      {"duplicate key", [&](std::string& b) { b[find_name(b, "dup.keyB") + 7] = 'A'; },
       {"duplicate key 'dup.keyA' at offset"}},
      {"alignment not a power of two",
       [&](std::string& b) { poke<uint32_t>(b, key(b, "general.alignment") + 4, 48); },
       {"key 'general.alignment' at offset", "is 48, not a power of two"}},
      {"alignment of wrong type",
       [&](std::string& b) { poke<uint32_t>(b, key(b, "general.alignment"), 6); },
       {"key 'general.alignment' has type float32, expected an unsigned integer"}},
      {"n_dims 5", [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "tensor.a").n_dims, 5); },
       {"tensor 'tensor.a' at offset", "has n_dims 5 (must be 1 to 4)"}},
      {"n_dims 0", [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "tensor.a").n_dims, 0); },
       {"tensor 'tensor.a' at offset", "has n_dims 0"}},
      {"zero dim", [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "tensor.a").dims + 8, 0); },
       {"tensor 'tensor.a' dimension 1 at offset", "is 0 (must be > 0)"}},
      {"dim past int64", [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "tensor.a").dims, ~uint64_t{0}); },
       {"tensor 'tensor.a' dimension 0 at offset", "(too large)"}},
      {"overflowing dims",
       [&](std::string& b) {
         const TensorFields t = tensor_fields(b, "tensor.a");
         poke<uint64_t>(b, t.dims, uint64_t{1} << 40);
         poke<uint64_t>(b, t.dims + 8, uint64_t{1} << 40);
       },
       {"tensor 'tensor.a' at offset", "element count overflows"}},
      {"unsupported type iq2_xxs",
       [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "tensor.a").type, 16); },
       {"tensor 'tensor.a' has type iq2_xxs (16", "which llmos does not support"},
       ErrorCode::kUnimplemented},
      {"unknown tensor type",
       [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "tensor.a").type, 999); },
       {"tensor 'tensor.a' at offset", "has unknown type 999"}},
      {"row not a multiple of the block",
       [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "tensor.b").dims, 33); },
       {"tensor 'tensor.b'", "row length ne0=33 is not a multiple of the block size 32"}},
      {"q1_0 row not a multiple of its 128-element block",
       [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "tensor.b").type, 41); },
       {"tensor 'tensor.b'", "row length ne0=64 is not a multiple of the block size 128"}},
      {"q2_0 row not a multiple of its 64-element block",
       [&](std::string& b) {
         const TensorFields t = tensor_fields(b, "tensor.b");
         poke<uint32_t>(b, t.type, 42);
         poke<uint64_t>(b, t.dims, 96);
       },
       {"tensor 'tensor.b'", "row length ne0=96 is not a multiple of the block size 64"}},
      {"iq3_s row not a multiple of its 256-element block",
       [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "tensor.b").type, 21); },
       {"tensor 'tensor.b'", "row length ne0=64 is not a multiple of the block size 256"}},
      {"misaligned data offset",
       [&](std::string& b) {
         const size_t at = tensor_fields(b, "tensor.b").offset;
         poke<uint64_t>(b, at, peek<uint64_t>(b, at) + 1);
       },
       {"tensor 'tensor.b' data offset 257", "is not a multiple of the alignment 32"}},
      {"tensor data past EOF",
       [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "tensor.c").offset, 1 << 20); },
       {"tensor 'tensor.c' data [", "ends past end of file (size"}},
      {"tensor offset overflow",
       [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "tensor.c").offset, ~uint64_t{31}); },
       {"tensor 'tensor.c' data offset", "overflows"}},
      {"duplicate tensor", [&](std::string& b) { b[find_name(b, "tensor.c") + 7] = 'a'; },
       {"duplicate tensor 'tensor.a' at offset"}},
      {"truncated data section", [](std::string& b) { b.resize(b.size() - 40); },
       {"tensor 'tensor.c' data [", "ends past end of file"}},
      {"truncated metadata", [&](std::string& b) { b.resize(find_name(b, "test.tokens") + 20); },
       {"truncated file: key 'test.tokens'", "past end of file"}},
      {"empty file", [](std::string& b) { b.clear(); }, {"file is empty"}},
  };

  for (const CorruptCase& c : cases) {
    CAPTURE(c.what);
    std::string bytes = base;
    c.patch(bytes);
    const std::string path = dir.file("corrupt.gguf");
    testing::write_bytes(path, bytes);
    auto r = GgufFile::open(path);
    REQUIRE_FALSE(r.ok());
    const std::string& msg = r.status().message();
    CAPTURE(msg);
    CHECK(r.status().code() == c.code);
    CHECK(msg.starts_with(path + ": "));
    CHECK(msg.find('\n') == std::string::npos);
    for (const std::string& e : c.expect) CHECK(contains(msg, e));
  }
}

TEST_CASE("super-block tensors: truncated data, partial blocks and unknown types name the tensor") {
  TempDir dir;
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_tensor("blk.0.q5_1", DType::kQ5_1, {64, 2}, std::vector<uint8_t>(4 * 24, 1));
  w.add_tensor("blk.0.q4_k", DType::kQ4_K, {256, 2}, std::vector<uint8_t>(2 * 144, 2));
  w.add_tensor("output.q6_k", DType::kQ6_K, {512, 3}, std::vector<uint8_t>(6 * 210, 3));
  REQUIRE(w.write(dir.file("base.gguf")).ok());
  const std::string base = testing::read_bytes(dir.file("base.gguf"));
  {
    auto ok = GgufFile::open(dir.file("base.gguf"));
    REQUIRE_MESSAGE(ok.ok(), ok.status().to_string());
    CHECK((*ok)->find_tensor("output.q6_k")->n_bytes == 6 * 210);
    CHECK((*ok)->find_tensor("blk.0.q5_1")->n_bytes == 4 * 24);
  }
  const std::vector<CorruptCase> cases = {
      {"truncated q6_k data", [](std::string& b) { b.resize(b.size() - 100); },
       {"tensor 'output.q6_k' data [", "ends past end of file"}},
      {"q4_k row of half a super-block",
       [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "blk.0.q4_k").dims, 128); },
       {"tensor 'blk.0.q4_k'", "type q4_k", "row length ne0=128 is not a multiple of the block size 256"}},
      {"q5_1 row not whole blocks",
       [&](std::string& b) { poke<uint64_t>(b, tensor_fields(b, "blk.0.q5_1").dims, 48); },
       {"tensor 'blk.0.q5_1'", "row length ne0=48 is not a multiple of the block size 32"}},
      {"unknown type id", [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "blk.0.q4_k").type, 4242); },
       {"tensor 'blk.0.q4_k' at offset", "has unknown type 4242"}},
      {"type id of a removed type", [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "blk.0.q4_k").type, 40); },
       {"tensor 'blk.0.q4_k' at offset", "has unknown type 40"}},
      {"q8_k is not a storage type", [&](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "blk.0.q4_k").type, 15); },
       {"tensor 'blk.0.q4_k' has type q8_k (15", "which llmos does not support"}, ErrorCode::kUnimplemented},
  };
  for (const CorruptCase& c : cases) {
    CAPTURE(c.what);
    std::string bytes = base;
    c.patch(bytes);
    const std::string path = dir.file("corrupt.gguf");
    testing::write_bytes(path, bytes);
    auto r = GgufFile::open(path);
    REQUIRE_FALSE(r.ok());
    const std::string& msg = r.status().message();
    CAPTURE(msg);
    CHECK(r.status().code() == c.code);
    CHECK(msg.starts_with(path + ": "));
    CHECK(msg.find('\n') == std::string::npos);
    for (const std::string& e : c.expect) CHECK(contains(msg, e));
  }
}

TEST_CASE("a missing file or a folder fails naming the path") {
  TempDir dir;
  const std::string missing = dir.file("missing.gguf");
  auto r = GgufFile::open(missing);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotFound);
  CHECK(r.status().message() == missing + ": cannot open: No such file or directory");
  auto d = GgufFile::open(dir.file(""));
  REQUIRE_FALSE(d.ok());
  CHECK(contains(d.status().message(), "not a regular file"));
}

TEST_CASE("every truncation of a valid file fails cleanly") {
  TempDir dir;
  const std::string base = base_file_bytes(dir);
  const std::string path = dir.file("cut.gguf");
  // The last tensor's data ends 16 bytes before the padded end of the file.
  for (size_t n = 0; n + 16 < base.size(); ++n) {
    CAPTURE(n);
    testing::write_bytes(path, std::string_view(base).substr(0, n));
    auto r = GgufFile::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().starts_with(path + ": "));
  }
  testing::write_bytes(path, std::string_view(base).substr(0, base.size() - 16));
  CHECK(GgufFile::open(path).ok());
}

TEST_CASE("random byte corruption never crashes the reader") {
  TempDir dir;
  const std::string base = base_file_bytes(dir);
  const std::string path = dir.file("fuzz.gguf");
  const size_t header_end = tensor_fields(base, "tensor.c").offset + 8;
  uint64_t state = 0x9e3779b97f4a7c15ull;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int failures = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string bytes = base;
    const int flips = 1 + int(next() % 4);
    for (int k = 0; k < flips; ++k) bytes[next() % header_end] = char(next());
    testing::write_bytes(path, bytes);
    auto r = GgufFile::open(path);
    if (!r.ok()) {
      ++failures;
      CHECK(r.status().message().starts_with(path + ": "));
      continue;
    }
    // What opened must be readable end to end.
    for (const MetadataEntry& e : (*r)->metadata()) (void)(*r)->format_value(e, 1000);
    for (const TensorInfo& t : (*r)->tensors()) {
      volatile uint8_t sink = static_cast<const uint8_t*>(t.data)[t.n_bytes - 1];
      (void)sink;
    }
  }
  CHECK(failures > 0);
}

}  // namespace
}  // namespace llmos::gguf
