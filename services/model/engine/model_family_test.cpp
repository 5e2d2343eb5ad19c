#include "llmos/engine/model_family.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "engine_test_util.hpp"
#include "llmos/driver/device.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "shared_dir.hpp"

namespace llmos::engine {
namespace {

Result<std::unique_ptr<Model>> load_path(const std::string& path) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  driver::DriverOptions dopts;
  dopts.threads = 1;
  LLMOS_ASSIGN_OR_RETURN(auto drv, driver::make_driver(driver::DeviceKind::kCpu, dopts));
  return load_model(std::move(file), std::move(drv), ModelOptions{});
}

TEST_CASE("the family table: llama runs llama and mistral files") {
  const ModelFamily* llama = find_model_family("llama");
  REQUIRE(llama != nullptr);
  CHECK(llama->name == "llama");
  CHECK(find_model_family("mistral") == llama);
  CHECK(find_model_family("qwen3") == nullptr);
  CHECK(find_model_family("") == nullptr);
  CHECK(supported_architectures() == "llama, mistral");
  // Every architecture is run by exactly one family.
  for (const ModelFamily& f : model_families()) {
    CHECK(bool(f.load));
    for (std::string_view a : f.architectures) CHECK(find_model_family(a) == &f);
  }
}

TEST_CASE("an architecture no family runs is one line naming it and those llmos runs") {
  const std::string path = (std::filesystem::path(tiny_model_path()).parent_path() / "qwen3-keys-only.gguf").string();
  gguf::GgufWriter w;
  w.add_string("general.architecture", "qwen3");
  REQUIRE(w.write(path).ok());
  auto m = load_path(path);
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().code() == ErrorCode::kUnimplemented);
  CHECK(m.status().message() == path + ": architecture 'qwen3' is not supported (supported: llama, mistral)");
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

TEST_CASE("the architecture fixtures llmos does not run yet are refused by name") {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty() || !std::filesystem::exists(shared + "/models/arch/qwen3.gguf")) {
    MESSAGE("skipped: no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  for (const char* arch : {"qwen2", "qwen3", "qwen3moe", "gemma3", "phi3"}) {
    const std::string path = shared + "/models/arch/" + arch + ".gguf";
    auto m = load_path(path);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == ErrorCode::kUnimplemented);
    CHECK(m.status().message() == path + ": architecture '" + arch + "' is not supported (supported: llama, mistral)");
  }
}

}  // namespace
}  // namespace llmos::engine
