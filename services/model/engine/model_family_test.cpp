#include "llmos/engine/model_family.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "engine_test_util.hpp"
#include "llmos/driver/device.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::engine {
namespace {

Result<std::unique_ptr<Model>> load_path(const std::string& path) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  driver::DriverOptions dopts;
  dopts.threads = 1;
  LLMOS_ASSIGN_OR_RETURN(auto drv, driver::make_driver(driver::DeviceKind::kCpu, dopts));
  return load_model(std::move(file), std::move(drv), ModelOptions{});
}

TEST_CASE("the family table: each architecture to the family that runs it") {
  const ModelFamily* llama = find_model_family("llama");
  REQUIRE(llama != nullptr);
  CHECK(llama->name == "llama");
  CHECK(find_model_family("mistral") == llama);
  const ModelFamily* qwen = find_model_family("qwen3");
  REQUIRE(qwen != nullptr);
  CHECK(qwen->name == "qwen");
  CHECK(find_model_family("qwen2") == qwen);
  CHECK(find_model_family("qwen3moe") == qwen);
  CHECK(find_model_family("phi3")->name == "phi3");
  CHECK(find_model_family("gemma3")->name == "gemma3");
  CHECK(find_model_family("gemma2") == nullptr);
  CHECK(find_model_family("") == nullptr);
  CHECK(supported_architectures() == "llama, mistral, qwen2, qwen3, qwen3moe, phi3, gemma3");
  // Every architecture is run by exactly one family.
  for (const ModelFamily& f : model_families()) {
    CHECK(bool(f.load));
    for (std::string_view a : f.architectures) CHECK(find_model_family(a) == &f);
  }
}

TEST_CASE("an architecture no family runs is one line naming it and those llmos runs") {
  const std::string path = (std::filesystem::path(tiny_model_path()).parent_path() / "gpt2-keys-only.gguf").string();
  gguf::GgufWriter w;
  w.add_string("general.architecture", "gpt2");
  REQUIRE(w.write(path).ok());
  auto m = load_path(path);
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().code() == ErrorCode::kUnimplemented);
  CHECK(m.status().message() == path + ": architecture 'gpt2' is not supported (supported: llama, mistral, qwen2, " +
                                    "qwen3, qwen3moe, phi3, gemma3)");
}

TEST_CASE("load_model refuses bad options before reading the file") {
  auto file = gguf::GgufFile::open(tiny_model_path());
  REQUIRE(file.ok());
  auto drv = driver::make_driver(driver::DeviceKind::kCpu, driver::DriverOptions{1});
  REQUIRE(drv.ok());
  ModelOptions o;
  o.max_outputs = o.max_batch_tokens + 1;
  auto m = load_model(std::move(*file), std::move(*drv), o);
  CHECK(m.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a llama file loads through the table with its config and per-layer description") {
  auto m = tiny_model();
  const ModelConfig& c = m->config();
  CHECK(c.architecture == "llama");
  REQUIRE(int(c.layers.size()) == c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    CHECK(c.layers[size_t(i)].attention == AttentionKind::kGlobal);
    CHECK(c.attention_window(i) == 0);
    CHECK(c.layers[size_t(i)].rope_freq_base == c.rope_freq_base);
    CHECK(c.layers[size_t(i)].tensors == 0);
  }
  CHECK(c.n_sliding_window_layers() == 0);
  CHECK(m->weight_bytes() == m->file().total_tensor_bytes());
  CHECK(m->activation_bytes() > 0);
  CHECK(m->driver().info().name == "cpu");
}

TEST_CASE("every architecture fixture loads, with the per-layer description its family sets" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty() || !std::filesystem::exists(shared + "/models/arch/qwen3.gguf")) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  struct Want {
    const char* file;
    uint32_t tensors;  // LayerTensor bits of every layer
    int n_experts;
  };
  for (const Want& w : {Want{"llama3", 0, 0}, Want{"mixtral", kExperts, 4}, Want{"qwen2", kQkvBias, 0},
                        Want{"qwen3", kQkNorm, 0}, Want{"qwen3moe", kQkNorm | kExperts, 8},
                        Want{"phi3", kFusedQkv | kFusedGateUp, 0}, Want{"gemma3", kQkNorm | kPostNorms, 0}}) {
    const std::string path = shared + "/models/arch/" + w.file + ".gguf";
    CAPTURE(path);
    auto m = load_path(path);
    REQUIRE_MESSAGE(m.ok(), m.status().to_string());
    const ModelConfig& c = (*m)->config();
    CHECK(c.n_experts == w.n_experts);
    for (const LayerSpec& l : c.layers) CHECK(l.tensors == w.tensors);
    CHECK((*m)->weight_bytes() == (*m)->file().total_tensor_bytes());
  }
  // gemma3: layers 0-4 local (window 32, base 10000), layer 5 global (base 1e6).
  auto g = load_path(shared + "/models/arch/gemma3.gguf");
  REQUIRE(g.ok());
  const ModelConfig& c = (*g)->config();
  REQUIRE(c.n_layers == 6);
  CHECK(c.n_sliding_window_layers() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(c.attention_window(i) == 32);
    CHECK(c.layers[size_t(i)].rope_freq_base == 10000.0f);
  }
  CHECK(c.attention_window(5) == 0);
  CHECK(c.layers[5].rope_freq_base == 1e6f);
}

}  // namespace
}  // namespace llmos::engine
