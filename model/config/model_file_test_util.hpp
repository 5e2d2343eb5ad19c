// Test helper: writes a small GGUF model file from a list of metadata keys
// (each of which a test may drop or replace) and a token_embd table.
// Test-only; not thread-safe.
#pragma once
#include <unistd.h>

#include <atomic>
#include <doctest/doctest.h>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "llmos/gguf/gguf_writer.hpp"

namespace llmos::model::testing {

using KeyValue = std::variant<uint32_t, float, std::string>;
struct Key {
  std::string key;
  KeyValue value;
};

// The keys of a small llama file: dim 64, 4 layers, 8 heads, 4 KV heads, ctx 256.
inline std::vector<Key> llama_keys() {
  return {{"general.architecture", std::string("llama")},
          {"general.name", std::string("tiny")},
          {"llama.embedding_length", uint32_t(64)},
          {"llama.block_count", uint32_t(4)},
          {"llama.attention.head_count", uint32_t(8)},
          {"llama.attention.head_count_kv", uint32_t(4)},
          {"llama.feed_forward_length", uint32_t(96)},
          {"llama.context_length", uint32_t(256)},
          {"llama.rope.freq_base", 500000.0f},
          {"llama.attention.layer_norm_rms_epsilon", 1e-6f}};
}

class ModelFile {
 public:
  // Writes `keys` and a [dim, n_vocab] F32 token_embd (dim from the keys, 64 if absent).
  explicit ModelFile(const std::vector<Key>& keys, int n_vocab = 32, bool with_embd = true) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("llmos_model_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".gguf"))
                .string();
    gguf::GgufWriter w;
    int64_t dim = 64;
    for (const Key& k : keys) {
      if (k.key.ends_with(".embedding_length") && std::holds_alternative<uint32_t>(k.value)) {
        dim = std::get<uint32_t>(k.value);
      }
      if (const auto* u = std::get_if<uint32_t>(&k.value)) w.add_uint32(k.key, *u);
      if (const auto* f = std::get_if<float>(&k.value)) w.add_float32(k.key, *f);
      if (const auto* s = std::get_if<std::string>(&k.value)) w.add_string(k.key, *s);
    }
    if (with_embd) {
      std::vector<float> values(size_t(dim > 0 ? dim : 1) * size_t(n_vocab), 0.5f);
      w.add_tensor_from_f32("token_embd.weight", DType::kF32, {dim > 0 ? dim : 1, n_vocab}, values);
    }
    auto r = w.write(path_);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  ~ModelFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<Key> without(std::vector<Key> keys, const std::string& key) {
  std::erase_if(keys, [&](const Key& k) { return k.key == key; });
  return keys;
}

inline std::vector<Key> with(std::vector<Key> keys, const std::string& key, KeyValue value) {
  keys = without(std::move(keys), key);
  keys.push_back({key, std::move(value)});
  return keys;
}

}  // namespace llmos::model::testing
