#include "llmos/model/memory_estimate.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "llmos/gguf/gguf_file.hpp"
#include "model_file_test_util.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::model {
namespace {

Hyperparameters shape(int layers, int kv_heads, int head_dim, int v_head_dim) {
  Hyperparameters h;
  h.n_layers = layers;
  h.n_kv_heads = kv_heads;
  h.head_dim = head_dim;
  h.v_head_dim = v_head_dim;
  return h;
}

TEST_CASE("the KV cache holds K and V of every layer, in whole blocks") {
  const Hyperparameters h = shape(5, 4, 16, 16);
  CHECK(*kv_cache_bytes(h, 512, 16, DType::kF16) == 5ull * 512 * 4 * (16 + 16) * 2);
  CHECK(*kv_cache_bytes(h, 17, 16, DType::kF16) == *kv_cache_bytes(h, 32, 16, DType::kF16));  // 2 blocks
  CHECK(*kv_cache_bytes(h, 17, 1, DType::kF16) == 5ull * 17 * 4 * 32 * 2);
  CHECK(*kv_cache_bytes(h, 512, 16, DType::kF32) == 2 * *kv_cache_bytes(h, 512, 16, DType::kF16));
}

TEST_CASE("the geometry the kernel sizes its arena with is the one the estimate counts") {
  const Hyperparameters h = shape(5, 4, 16, 16);
  auto g = kv_cache_geometry(h, 100, 16, DType::kF16);
  REQUIRE(g.ok());
  CHECK(g->n_blocks == 7);
  CHECK(g->kv_dim() == 64);
  CHECK(g->bytes() == *kv_cache_bytes(h, 100, 16, DType::kF16));
}

TEST_CASE("V rows of another width than K's are not something the KV cache can hold") {
  auto r = kv_cache_bytes(shape(2, 2, 128, 64), 32, 16, DType::kF16);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kUnimplemented);
  CHECK(r.status().message().find("V rows of 64 values beside K rows of 128") != std::string::npos);
}

TEST_CASE("bad inputs and counts past 64 bits are refused") {
  const Hyperparameters h = shape(5, 4, 16, 16);
  CHECK(kv_cache_bytes(h, 0, 16, DType::kF16).status().code() == ErrorCode::kInvalidArgument);
  CHECK(kv_cache_bytes(h, 16, 0, DType::kF16).status().code() == ErrorCode::kInvalidArgument);
  CHECK(kv_cache_bytes(h, 16, 16, DType::kQ8_0).status().code() == ErrorCode::kInvalidArgument);
  auto huge = kv_cache_bytes(shape(1024, 1024, 4096, 4096), uint64_t(1) << 40, 16, DType::kF32);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.status().message().find("1099511627776 tokens") != std::string::npos);
  auto big = kv_cache_bytes(shape(1024, 1024, 4096, 4096), uint64_t(1) << 30, 16, DType::kF32);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message().find("1073741824 tokens") != std::string::npos);
}

TEST_CASE("a model's estimate: every tensor's bytes plus the KV cache for the context") {
  testing::ModelFile file(testing::llama_keys(), 32);
  auto f = gguf::GgufFile::open(file.path());
  REQUIRE(f.ok());
  auto h = read_hyperparameters(**f);
  REQUIRE(h.ok());
  auto m = estimate_model_memory(**f, *h, 100, 16, DType::kF16);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  CHECK(m->weights_bytes == 64ull * 32 * 4);  // token_embd, f32
  CHECK(m->kv_tokens == 112);
  CHECK(m->kv_bytes == 4ull * 112 * 4 * (8 + 8) * 2);  // 4 layers, 4 KV heads of 8
  CHECK(m->total() == m->weights_bytes + m->kv_bytes);
}

TEST_CASE("active weight bytes: a dense file reads all of them per token, a mixture only its routed experts" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty() || !std::filesystem::exists(shared + "/models/arch/qwen3moe.gguf")) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  for (const char* name : {"qwen3", "qwen3moe"}) {
    auto f = gguf::GgufFile::open(shared + "/models/arch/" + name + ".gguf");
    REQUIRE(f.ok());
    auto h = read_hyperparameters(**f);
    REQUIRE(h.ok());
    uint64_t experts = 0;
    for (const auto& t : (*f)->tensors()) experts += t.name.ends_with("_exps.weight") ? t.n_bytes : 0;
    CAPTURE(name);
    // qwen3moe: 8 experts, 2 used: three quarters of the expert bytes are not read.
    CHECK(active_weight_bytes(**f, *h) == (*f)->total_tensor_bytes() - experts * 3 / 4);
    CHECK((experts > 0) == (std::string(name) == "qwen3moe"));
  }
}

}  // namespace
}  // namespace llmos::model
