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

// gemma3's shape (the reference file's): six layers, 1 KV head of 64, window
// 32 on layers 0-4, layer 5 global.
Hyperparameters gemma3_like(int window) {
  Hyperparameters h = shape(6, 1, 64, 64);
  h.architecture = "gemma3";
  h.sliding_window = window;
  h.sliding_window_pattern = 6;
  return h;
}

TEST_CASE("sliding-window layers hold their sequences' windows, not the context") {
  const uint64_t layer_block = 2ull * 16 * 64 * 2;  // K and V of one 16-token block, f16
  // Context 512 = 32 blocks; 8 sequences x (ceil(32 / 16) + 1) = 24 window blocks.
  auto g = kv_cache_geometry(gemma3_like(32), 512, 16, DType::kF16);
  REQUIRE(g.ok());
  CHECK(g->n_blocks == 32);
  CHECK(g->n_window_layers() == 5);
  CHECK_FALSE(g->is_window_layer(5));
  CHECK(g->n_window_blocks == 24);
  CHECK(g->bytes() == (1 * 32 + 5 * 24) * layer_block);
  const uint64_t no_window = *kv_cache_bytes(gemma3_like(0), 512, 16, DType::kF16);
  CHECK(no_window == 6 * 32 * layer_block);
  CHECK(g->bytes() < no_window);
  // The saving grows with the context: 8192 tokens need 512 blocks per global layer.
  CHECK(*kv_cache_bytes(gemma3_like(32), 8192, 16, DType::kF16) == (512 + 5 * 24) * layer_block);
  CHECK(*kv_cache_bytes(gemma3_like(0), 8192, 16, DType::kF16) == 6 * 512 * layer_block);
  // Fewer sequences at once, fewer window blocks; never more than the global layers'.
  CHECK(kv_cache_geometry(gemma3_like(32), 512, 16, DType::kF16, 2)->n_window_blocks == 6);
  CHECK(kv_cache_geometry(gemma3_like(500), 512, 16, DType::kF16)->n_window_blocks == 32);
  CHECK(kv_cache_bytes(gemma3_like(32), 512, 16, DType::kF16, 0).status().code() == ErrorCode::kInvalidArgument);
  // A window without a pattern (phi3's, which llama.cpp does not apply) splits nothing.
  Hyperparameters unused = gemma3_like(32);
  unused.sliding_window_pattern = 0;
  CHECK(kv_cache_geometry(unused, 512, 16, DType::kF16)->n_window_layers() == 0);
}

TEST_CASE("the gemma3 reference file's estimate counts its sliding layers' window blocks" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty() || !std::filesystem::exists(shared + "/models/arch/gemma3.gguf")) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  auto f = gguf::GgufFile::open(shared + "/models/arch/gemma3.gguf");
  REQUIRE(f.ok());
  auto h = read_hyperparameters(**f);
  REQUIRE(h.ok());
  auto m = estimate_model_memory(**f, *h, uint64_t(h->ctx_len), 16, DType::kF16);
  REQUIRE(m.ok());
  Hyperparameters global = *h;
  global.sliding_window = 0;
  auto all = estimate_model_memory(**f, global, uint64_t(h->ctx_len), 16, DType::kF16);
  REQUIRE(all.ok());
  CHECK(all->kv_bytes == 6ull * 512 * 64 * 2 * 2);
  CHECK(m->kv_bytes == (1ull * 32 + 5 * 24) * 16 * 64 * 2 * 2);
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
