#include "llmos/model/hyperparameters.hpp"

#include <doctest/doctest.h>

#include <filesystem>

#include "llmos/gguf/gguf_file.hpp"
#include "model_file_test_util.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::model {
namespace {

using testing::llama_keys;
using testing::ModelFile;
using testing::with;
using testing::without;

Result<Hyperparameters> read(const std::vector<testing::Key>& keys) {
  ModelFile file(keys);
  LLMOS_ASSIGN_OR_RETURN(auto f, gguf::GgufFile::open(file.path()));
  return read_hyperparameters(*f);
}

// The error reading `keys` gives; it must name the file.
Status error_of(const std::vector<testing::Key>& keys) {
  ModelFile file(keys);
  auto f = gguf::GgufFile::open(file.path());
  REQUIRE(f.ok());
  auto h = read_hyperparameters(**f);
  REQUIRE_FALSE(h.ok());
  CHECK_MESSAGE(h.status().message().find(file.path()) == 0, h.status().message());
  return h.status();
}

TEST_CASE("the family-neutral keys of a llama file") {
  auto h = read(llama_keys());
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  CHECK(h->architecture == "llama");
  CHECK(h->name == "tiny");
  CHECK(h->dim == 64);
  CHECK(h->n_layers == 4);
  CHECK(h->n_heads == 8);
  CHECK(h->n_kv_heads == 4);
  CHECK(h->head_dim == 8);  // no key_length: dim / heads
  CHECK(h->v_head_dim == 8);
  CHECK(h->rope_dim == 8);
  CHECK(h->ffn_dim == 96);
  CHECK(h->ctx_len == 256);
  CHECK(h->rope_freq_base == 500000.0f);
  CHECK(h->rms_eps == 1e-6f);
  CHECK(h->n_vocab == 32);
  CHECK(h->tied_output);
  CHECK(h->n_experts == 0);
  CHECK(h->q_dim() == 64);
  CHECK(h->kv_dim() == 32);
}

TEST_CASE("the head dim comes from attention.key_length when the file has it") {
  auto keys = with(llama_keys(), "llama.attention.key_length", uint32_t(32));
  auto h = read(with(keys, "llama.attention.value_length", uint32_t(16)));
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  CHECK(h->head_dim == 32);
  CHECK(h->v_head_dim == 16);
  CHECK(h->rope_dim == 32);
  CHECK(h->q_dim() == 256);  // wider than dim 64
  CHECK(h->kv_dim() == 128);
  CHECK(h->v_dim() == 64);
  // ... and then dim need not be a multiple of the head count.
  auto odd = read(with(with(keys, "llama.embedding_length", uint32_t(60)), "llama.attention.head_count", uint32_t(8)));
  REQUIRE_MESSAGE(odd.ok(), odd.status().to_string());
  CHECK(odd->head_dim == 32);
}

TEST_CASE("optional keys fall back: one KV head per head, default rope base and epsilon") {
  auto keys = without(without(without(llama_keys(), "llama.attention.head_count_kv"), "llama.rope.freq_base"),
                      "llama.attention.layer_norm_rms_epsilon");
  auto h = read(without(keys, "general.name"));
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  CHECK(h->n_kv_heads == 8);
  CHECK(h->rope_freq_base == 10000.0f);
  CHECK(h->rms_eps == 1e-5f);
  CHECK(h->name.empty());
}

TEST_CASE("every missing required key is an error naming it") {
  for (const char* key : {"general.architecture", "llama.embedding_length", "llama.block_count",
                          "llama.attention.head_count", "llama.feed_forward_length", "llama.context_length"}) {
    CAPTURE(key);
    Status st = error_of(without(llama_keys(), key));
    CHECK(st.code() == ErrorCode::kNotFound);
    CHECK_MESSAGE(st.message().find(std::string("'") + key + "'") != std::string::npos, st.message());
  }
}

TEST_CASE("every bad value is an error naming its key") {
  struct Case {
    std::string key;
    testing::KeyValue value;
  };
  const Case cases[] = {
      {"general.architecture", uint32_t(3)},               // wrong type
      {"llama.embedding_length", uint32_t(0)},             // out of range
      {"llama.embedding_length", std::string("64")},       // wrong type
      {"llama.block_count", uint32_t(5000)},
      {"llama.attention.head_count", uint32_t(0)},
      {"llama.attention.head_count_kv", uint32_t(16)},     // more than head_count
      {"llama.attention.head_count_kv", uint32_t(3)},      // not a divisor of head_count
      {"llama.attention.key_length", uint32_t(0)},
      {"llama.attention.value_length", 1.5f},
      {"llama.feed_forward_length", uint32_t(0)},
      {"llama.context_length", uint32_t(0)},
      {"llama.rope.dimension_count", uint32_t(7)},         // odd
      {"llama.rope.dimension_count", uint32_t(16)},        // wider than a head
      {"llama.rope.freq_base", 0.5f},
      {"llama.rope.freq_base", std::string("x")},
      {"llama.attention.layer_norm_rms_epsilon", 2.0f},
      {"llama.expert_count", uint32_t(5000)},
      {"llama.attention.sliding_window", uint32_t(1 << 20)},  // past the context
      {"llama.attention.sliding_window", std::string("32")},
      {"llama.rope.freq_base_swa", 0.0f},
      {"llama.rope.freq_base_swa", uint32_t(10000)},
      {"llama.rope.scaling.factor", -2.0f},
      {"llama.rope.scaling.type", uint32_t(1)},
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    Status st = error_of(with(llama_keys(), c.key, c.value));
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK_MESSAGE(st.message().find("'" + c.key + "'") != std::string::npos, st.message());
  }
}

TEST_CASE("dim must split into heads when there is no key_length; the error names both keys") {
  Status st = error_of(with(llama_keys(), "llama.embedding_length", uint32_t(60)));
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK_MESSAGE(st.message().find("'llama.embedding_length' = 60") != std::string::npos, st.message());
  CHECK_MESSAGE(st.message().find("'llama.attention.head_count' = 8") != std::string::npos, st.message());
}

TEST_CASE("experts: a count needs the number each token uses") {
  auto keys = with(llama_keys(), "llama.expert_count", uint32_t(4));
  Status st = error_of(keys);
  CHECK(st.code() == ErrorCode::kNotFound);
  CHECK_MESSAGE(st.message().find("'llama.expert_used_count'") != std::string::npos, st.message());
  st = error_of(with(keys, "llama.expert_used_count", uint32_t(5)));
  CHECK_MESSAGE(st.message().find("'llama.expert_used_count' = 5") != std::string::npos, st.message());
  auto h = read(with(keys, "llama.expert_used_count", uint32_t(2)));
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  CHECK(h->n_experts == 4);
  CHECK(h->n_experts_used == 2);
  CHECK(h->expert_ffn_dim == h->ffn_dim);  // no expert width: the FFN's
  auto e = with(with(keys, "llama.expert_used_count", uint32_t(2)), "llama.expert_feed_forward_length", uint32_t(0));
  st = error_of(e);
  CHECK_MESSAGE(st.message().find("'llama.expert_feed_forward_length' = 0") != std::string::npos, st.message());
}

TEST_CASE("the keys are read under the file's own architecture, whatever it is") {
  std::vector<testing::Key> keys;
  for (auto k : llama_keys()) {
    if (k.key.starts_with("llama.")) k.key = "qwen3." + k.key.substr(6);
    keys.push_back(k);
  }
  auto h = read(with(keys, "general.architecture", std::string("qwen3")));
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  CHECK(h->architecture == "qwen3");
  CHECK(h->n_layers == 4);
}

TEST_CASE("the vocabulary is token_embd's row count; a file without it is refused") {
  ModelFile file(llama_keys(), 32, /*with_embd=*/false);
  auto f = gguf::GgufFile::open(file.path());
  REQUIRE(f.ok());
  auto h = read_hyperparameters(**f);
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == ErrorCode::kNotFound);
  CHECK(h.status().message() == file.path() + ": missing tensor 'token_embd.weight'");
}

TEST_CASE("the architecture fixtures: head dims from key_length, experts, tied outputs" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty() || !std::filesystem::exists(shared + "/models/arch/qwen3.gguf")) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  auto open = [&](const std::string& name) {
    auto f = gguf::GgufFile::open(shared + "/models/arch/" + name + ".gguf");
    REQUIRE_MESSAGE(f.ok(), f.status().to_string());
    auto h = read_hyperparameters(**f);
    REQUIRE_MESSAGE(h.ok(), h.status().to_string());
    return *h;
  };
  const Hyperparameters qwen3 = open("qwen3");
  CHECK(qwen3.dim == 256);
  CHECK(qwen3.head_dim == 128);
  CHECK(qwen3.q_dim() == 512);
  CHECK(qwen3.rope_dim == 128);
  const Hyperparameters mixtral = open("mixtral");
  CHECK(mixtral.architecture == "llama");
  CHECK(mixtral.n_experts == 4);
  CHECK(mixtral.n_experts_used == 2);
  const Hyperparameters qwen2 = open("qwen2");
  CHECK(qwen2.tied_output);
  CHECK(qwen2.rms_eps == 1e-6f);
  const Hyperparameters gemma3 = open("gemma3");
  CHECK(gemma3.n_layers == 6);
  CHECK(gemma3.n_kv_heads == 1);
  CHECK(gemma3.head_dim == 64);
  CHECK(gemma3.sliding_window == 32);
  CHECK(gemma3.sliding_window_pattern == 6);
  CHECK(gemma3.is_sliding_window_layer(4));
  CHECK_FALSE(gemma3.is_sliding_window_layer(5));
  CHECK(gemma3.rope_freq_base_swa == 10000.0f);
  CHECK(gemma3.rope_freq_base == 1e6f);
  const Hyperparameters qwen3moe = open("qwen3moe");
  CHECK(qwen3moe.n_experts == 8);
  CHECK(qwen3moe.n_experts_used == 2);
  CHECK(qwen3moe.expert_ffn_dim == 128);
  CHECK(qwen3moe.ffn_dim == 512);
  CHECK(open("phi3").sliding_window == 0);
  CHECK_FALSE(open("phi3").is_sliding_window_layer(0));
}

}  // namespace
}  // namespace llmos::model
