// The families' refusals on broken variants of the architecture fixtures (one
// key or tensor removed or changed at a time): each is one error naming the
// key or tensor, never a crash or a wrongly run model. The fixtures' tokens are
// checked by tests/golden_arch_test.cpp.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unistd.h>

#include "llmos/driver/device.hpp"
#include "llmos/engine/model_family.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "llmos/modelgen/model_gen.hpp"
#include "engine_test_util.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::engine {
namespace {

// A changed copy of a fixture: its scalar keys (arrays, the tokenizer's, are
// not needed to load a model) and tensors, minus `drop_key` / `drop_tensor`,
// plus what `extra` adds.
struct Variant {
  std::string drop_key, drop_tensor;
  std::function<void(gguf::GgufWriter&)> extra;
};

std::filesystem::path variant_dir() {
  return std::filesystem::temp_directory_path() / ("llmos-families-test-" + std::to_string(::getpid()));
}

std::optional<std::string> write_variant(const std::string& fixture, const std::string& name, const Variant& v) {
  const std::string shared = llmos::testing::shared_dir();
  const std::string src = shared + "/models/arch/" + fixture + ".gguf";
  if (shared.empty() || !std::filesystem::exists(src)) return std::nullopt;
  auto f = gguf::GgufFile::open(src);
  REQUIRE(f.ok());
  gguf::GgufWriter w;
  for (const auto& e : (*f)->metadata()) {
    const std::string key(e.key);
    if (key == v.drop_key || e.type == gguf::ValueType::kArray) continue;
    auto s = (*f)->get_scalar(key);
    REQUIRE(s.ok());
    switch (e.type) {
      case gguf::ValueType::kString: w.add_string(key, std::get<std::string_view>(*s)); break;
      case gguf::ValueType::kFloat32: w.add_float32(key, float(std::get<double>(*s))); break;
      case gguf::ValueType::kBool: w.add_bool(key, std::get<bool>(*s)); break;
      case gguf::ValueType::kUint32: w.add_uint32(key, uint32_t(std::get<uint64_t>(*s))); break;
      case gguf::ValueType::kInt32: w.add_int32(key, int32_t(std::get<int64_t>(*s))); break;
      case gguf::ValueType::kUint64: w.add_uint64(key, std::get<uint64_t>(*s)); break;
      default: break;  // the fixtures hold no other scalar types that loading reads
    }
  }
  for (const auto& t : (*f)->tensors()) {
    if (t.name == v.drop_tensor) continue;
    const auto* p = static_cast<const uint8_t*>(t.data);
    w.add_tensor(t.name, t.type, t.dims, std::vector<uint8_t>(p, p + t.n_bytes));
  }
  if (v.extra) v.extra(w);
  const auto dir = variant_dir();
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (name + ".gguf")).string();
  REQUIRE(w.write(path).ok());
  return path;
}

Status load_error(const std::string& path) {
  auto file = gguf::GgufFile::open(path);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  auto drv = driver::make_driver(driver::DeviceKind::kCpu, driver::DriverOptions{1});
  REQUIRE(drv.ok());
  auto m = load_model(std::move(*file), std::move(*drv), ModelOptions{});
  REQUIRE_FALSE(m.ok());
  CHECK_MESSAGE(m.status().message().find(path) == 0, m.status().message());
  return m.status();
}

struct Case {
  const char* fixture;
  const char* name;
  Variant change;
  ErrorCode code;
  const char* names;  // the key or tensor the message must name
};

TEST_CASE("a fixture with one key or tensor missing or wrong is refused naming it" * doctest::test_suite("external")) {
  const Case cases[] = {
      {"qwen3moe", "qwen3moe-no-experts", {"qwen3moe.expert_count", "", {}}, ErrorCode::kNotFound,
       "'qwen3moe.expert_count'"},
      {"qwen3moe", "qwen3moe-too-many-used",
       {"qwen3moe.expert_used_count", "", [](gguf::GgufWriter& w) { w.add_uint32("qwen3moe.expert_used_count", 9); }},
       ErrorCode::kInvalidArgument, "'qwen3moe.expert_used_count' = 9"},
      {"mixtral", "mixtral-no-expert-count", {"llama.expert_count", "", {}}, ErrorCode::kInvalidArgument,
       "'llama.expert_count'"},
      {"mixtral", "mixtral-no-router", {"", "blk.1.ffn_gate_inp.weight", {}}, ErrorCode::kNotFound,
       "'blk.1.ffn_gate_inp.weight'"},
      {"gemma3", "gemma3-no-window", {"gemma3.attention.sliding_window", "", {}}, ErrorCode::kNotFound,
       "'gemma3.attention.sliding_window'"},
      {"gemma3", "gemma3-window-too-long",
       {"gemma3.attention.sliding_window", "",
        [](gguf::GgufWriter& w) { w.add_uint32("gemma3.attention.sliding_window", 100000); }},
       ErrorCode::kInvalidArgument, "'gemma3.attention.sliding_window' = 100000"},
      {"gemma3", "gemma3-no-post-norm", {"", "blk.2.post_ffw_norm.weight", {}}, ErrorCode::kNotFound,
       "'blk.2.post_ffw_norm.weight'"},
      {"qwen2", "qwen2-no-q-bias", {"", "blk.0.attn_q.bias", {}}, ErrorCode::kNotFound, "'blk.0.attn_q.bias'"},
      {"qwen3", "qwen3-no-k-norm", {"", "blk.1.attn_k_norm.weight", {}}, ErrorCode::kNotFound,
       "'blk.1.attn_k_norm.weight'"},
      {"llama3", "llama3-yarn",
       {"", "", [](gguf::GgufWriter& w) { w.add_string("llama.rope.scaling.type", "yarn"); }},
       ErrorCode::kUnimplemented, "'llama.rope.scaling.type' = 'yarn'"},
      {"llama3", "llama3-short-rope-freqs", {"", "rope_freqs.weight", [](gguf::GgufWriter& w) {
         w.add_tensor_from_f32("rope_freqs.weight", DType::kF32, {16}, std::vector<float>(16, 1.0f));
       }},
       ErrorCode::kInvalidArgument, "'rope_freqs.weight'"},
      {"phi3", "phi3-long-rope", {"", "", [](gguf::GgufWriter& w) {
         w.add_tensor_from_f32("rope_factors_long.weight", DType::kF32, {32}, std::vector<float>(32, 1.0f));
       }},
       ErrorCode::kUnimplemented, "'rope_factors_long.weight'"},
      {"phi3", "phi3-short-qkv", {"", "blk.0.attn_qkv.weight", [](gguf::GgufWriter& w) {
         w.add_tensor_from_f32("blk.0.attn_qkv.weight", DType::kF16, {256, 512}, std::vector<float>(256 * 512));
       }},
       ErrorCode::kInvalidArgument, "'blk.0.attn_qkv.weight'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto path = write_variant(c.fixture, c.name, c.change);
    if (!path) {
      llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
      return;
    }
    const Status st = load_error(*path);
    CHECK(st.code() == c.code);
    CHECK_MESSAGE(st.message().find(c.names) != std::string::npos, st.message());
    std::filesystem::remove(*path);
  }
  std::error_code ec;
  std::filesystem::remove_all(variant_dir(), ec);
}

// The synthesizer's qwen3 / qwen3moe presets, shrunk: they load, and each
// sequence gets the same greedy tokens alone as batched with seven others (a
// token's experts and their weighted sum do not depend on the batch).
TEST_CASE("the qwen3 and qwen3moe presets, shrunk, load and give the same tokens alone and batched") {
  for (const char* preset : {"qwen3-0.6b", "qwen3moe-small"}) {
    CAPTURE(preset);
    auto spec = modelgen::preset_spec(preset);
    REQUIRE(spec.ok());
    spec->dim = 64, spec->n_layers = 2, spec->n_heads = 4, spec->n_kv_heads = 2, spec->key_length = 32;
    spec->ffn_dim = 96, spec->vocab_size = 512, spec->context_length = kCtx;
    if (spec->n_experts > 0) spec->expert_ffn_dim = 64;
    const std::string path = (std::filesystem::path(tiny_model_path()).parent_path() / (std::string(preset) + ".gguf")).string();
    REQUIRE(modelgen::write_model(*spec, path).ok());
    auto file = gguf::GgufFile::open(path);
    REQUIRE(file.ok());
    auto drv = driver::make_driver(driver::DeviceKind::kCpu, driver::DriverOptions{2});
    REQUIRE(drv.ok());
    ModelOptions mo;
    mo.max_outputs = 8;
    auto m = load_model(std::move(*file), std::move(*drv), mo);
    REQUIRE_MESSAGE(m.ok(), m.status().to_string());
    CHECK((*m)->config().architecture == spec->architecture);
    CHECK((*m)->config().n_experts == spec->n_experts);
    CHECK((*m)->weight_bytes() == modelgen::weight_bytes(*spec));
    const auto reqs = requests(8);
    const Run batched = run(**m, 8 * kCtx, nullptr, reqs);
    for (size_t i = 0; i < reqs.size(); i += 3) {
      const Run alone = run(**m, kCtx, nullptr, {reqs[i]});
      CHECK(alone.tokens.at(reqs[i].id) == batched.tokens.at(reqs[i].id));
    }
  }
}

TEST_CASE("linear rope scaling: llama on every layer, gemma3 on its global layers only (as llama.cpp)" * doctest::test_suite("external")) {
  const auto llama = write_variant("llama3", "llama3-linear", {"", "", [](gguf::GgufWriter& w) {
                                     w.add_string("llama.rope.scaling.type", "linear");
                                     w.add_float32("llama.rope.scaling.factor", 4.0f);
                                   }});
  const auto gemma = write_variant("gemma3", "gemma3-linear", {"", "", [](gguf::GgufWriter& w) {
                                     w.add_float32("gemma3.rope.scaling.factor", 8.0f);  // type absent: linear
                                   }});
  const auto none = write_variant("llama3", "llama3-none", {"", "", [](gguf::GgufWriter& w) {
                                    w.add_string("llama.rope.scaling.type", "none");
                                    w.add_float32("llama.rope.scaling.factor", 4.0f);
                                  }});
  if (!llama || !gemma || !none) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  auto load = [](const std::string& path) {
    auto file = gguf::GgufFile::open(path);
    REQUIRE(file.ok());
    auto drv = driver::make_driver(driver::DeviceKind::kCpu, driver::DriverOptions{1});
    REQUIRE(drv.ok());
    auto m = load_model(std::move(*file), std::move(*drv), ModelOptions{});
    REQUIRE_MESSAGE(m.ok(), m.status().to_string());
    return std::move(*m);
  };
  // Each model is held by a variable: a range-for over a temporary's member would
  // read the layers after the model is destroyed.
  const auto scaled = load(*llama);
  for (const LayerSpec& l : scaled->config().layers) CHECK(l.rope_freq_scale == 0.25f);
  const auto unscaled = load(*none);
  for (const LayerSpec& l : unscaled->config().layers) CHECK(l.rope_freq_scale == 1.0f);
  const auto g = load(*gemma);
  for (int i = 0; i < 5; ++i) CHECK(g->config().layers[size_t(i)].rope_freq_scale == 1.0f);
  CHECK(g->config().layers[5].rope_freq_scale == 0.125f);
  std::error_code ec;
  std::filesystem::remove_all(variant_dir(), ec);
}

}  // namespace
}  // namespace llmos::engine
