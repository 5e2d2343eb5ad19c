// What the kernel checks before a load, from the file's metadata alone: the
// facts of a good model, and a vocabulary that does not fit the weights refused
// with the file and both sizes named.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "llmos/gguf/gguf_writer.hpp"
#include "llmos/modelgen/model_gen.hpp"
#include "model_inspector.hpp"
#include "temp_dir.hpp"

namespace llmos::kernel {
namespace {

using llmos::testing::TempDir;

// A llama header with `n_tokens` vocabulary entries (none: no tokens key) and
// an f32 token_embd of `n_rows` rows; enough for the inspection, not to run.
std::string write_header_model(const TempDir& dir, const std::string& name, int n_tokens, int n_rows) {
  gguf::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_uint32("llama.context_length", 64);
  w.add_uint32("llama.embedding_length", 32);
  w.add_uint32("llama.block_count", 1);
  w.add_uint32("llama.feed_forward_length", 64);
  w.add_uint32("llama.attention.head_count", 4);
  w.add_string("tokenizer.ggml.model", "llama");
  if (n_tokens >= 0) {
    std::vector<std::string> tokens;
    for (int i = 0; i < n_tokens; ++i) tokens.push_back(std::to_string(i));
    w.add_string_array("tokenizer.ggml.tokens", tokens);
  }
  w.add_tensor("token_embd.weight", DType::kF32, {32, n_rows}, std::vector<uint8_t>(size_t(32) * n_rows * 4));
  const std::string path = dir.file(name);
  auto written = w.write(path);
  REQUIRE_MESSAGE(written.ok(), written.status().to_string());
  return path;
}

TEST_CASE("a model's facts: its vocabulary size, context and the memory a load needs") {
  TempDir dir;
  modelgen::ModelSpec spec;
  spec.vocab_size = 300;
  spec.context_length = 128;
  const std::string path = dir.file("m.gguf");
  REQUIRE(modelgen::write_model(spec, path).ok());

  auto facts = inspect_model(path, 0, 16);
  REQUIRE_MESSAGE(facts.ok(), facts.status().to_string());
  CHECK(facts->vocab_size == 300);
  CHECK(facts->model_ctx == 128);
  CHECK(facts->ctx == 128);
  CHECK(facts->memory.weights_bytes == modelgen::weight_bytes(spec));
  CHECK(facts->memory.kv_bytes > 0);

  auto shorter = inspect_model(path, 32, 16);
  REQUIRE(shorter.ok());
  CHECK(shorter->ctx == 32);
  CHECK(shorter->memory.kv_bytes < facts->memory.kv_bytes);
}

TEST_CASE("a vocabulary that does not match the embedding rows, or none at all, is refused naming the file") {
  TempDir dir;
  SUBCASE("sizes differ") {
    const std::string path = write_header_model(dir, "mismatch.gguf", 10, 12);
    auto facts = inspect_model(path, 0, 16);
    REQUIRE_FALSE(facts.ok());
    CHECK(facts.status().code() == ErrorCode::kInvalidArgument);
    CHECK(facts.status().message() == path + ": the vocabulary has 10 tokens but token_embd.weight has 12 rows");
  }
  SUBCASE("no tokens") {
    const std::string path = write_header_model(dir, "none.gguf", -1, 12);
    auto facts = inspect_model(path, 0, 16);
    REQUIRE_FALSE(facts.ok());
    CHECK(facts.status().code() == ErrorCode::kNotFound);
    CHECK(facts.status().message() == path + ": missing required key 'tokenizer.ggml.tokens'");
  }
  SUBCASE("an empty list") {
    const std::string path = write_header_model(dir, "empty.gguf", 0, 12);
    auto facts = inspect_model(path, 0, 16);
    REQUIRE_FALSE(facts.ok());
    CHECK(facts.status().message() == path + ": tokenizer.ggml.tokens is empty");
  }
  SUBCASE("the sizes agree") {
    const std::string path = write_header_model(dir, "ok.gguf", 12, 12);
    auto facts = inspect_model(path, 0, 16);
    REQUIRE_MESSAGE(facts.ok(), facts.status().to_string());
    CHECK(facts->vocab_size == 12);
  }
}

TEST_CASE("a context above the model's own is refused with both numbers") {
  TempDir dir;
  const std::string path = write_header_model(dir, "ctx.gguf", 12, 12);
  auto facts = inspect_model(path, 65, 16);
  REQUIRE_FALSE(facts.ok());
  CHECK(facts.status().message() == path + ": a context of 65 tokens exceeds the model's context_length of 64");
}

}  // namespace
}  // namespace llmos::kernel
