#include "llmos/engine/model_config.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "llmos/gguf/gguf_file.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::engine {
namespace {

// The per-layer description of each architecture fixture, as its tensors show it.
TEST_CASE("each layer's optional tensors are read from the file, for every family to come" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty() || !std::filesystem::exists(shared + "/models/arch/qwen3.gguf")) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  struct Case {
    const char* file;
    uint32_t tensors;
  };
  const Case cases[] = {
      {"llama3", 0},
      {"qwen2", kQkvBias},
      {"qwen3", kQkNorm},
      {"gemma3", kQkNorm | kPostNorms},
      {"phi3", kFusedQkv | kFusedGateUp},
      {"mixtral", kExperts},
      {"qwen3moe", kQkNorm | kExperts},
  };
  for (const Case& c : cases) {
    CAPTURE(c.file);
    auto f = gguf::GgufFile::open(shared + "/models/arch/" + c.file + ".gguf");
    REQUIRE(f.ok());
    auto config = read_model_config(**f);
    REQUIRE_MESSAGE(config.ok(), config.status().to_string());
    REQUIRE(int(config->layers.size()) == config->n_layers);
    for (const LayerSpec& l : config->layers) {
      CHECK(l.tensors == c.tensors);
      CHECK(l.attention == AttentionKind::kGlobal);  // a family sets windows; the file alone does not
      CHECK(l.rope_freq_base == config->rope_freq_base);
    }
    // A family refuses what it does not run, naming the tensor; all of it, it accepts.
    Status refused = check_layer_tensors(**f, *config, 0, "test");
    CHECK(refused.ok() == (c.tensors == 0));
    if (!refused.ok()) {
      CHECK(refused.code() == ErrorCode::kUnimplemented);
      CHECK_MESSAGE(refused.message().find("'blk.0.") != std::string::npos, refused.message());
      CHECK_MESSAGE(refused.message().find("llmos's test family") != std::string::npos, refused.message());
    }
    CHECK(check_layer_tensors(**f, *config, c.tensors, "test").ok());
  }
}

TEST_CASE("sliding-window layers: the window a layer attends and how many such layers") {
  ModelConfig c;
  c.n_layers = 3;
  c.layers.resize(3);
  c.layers[0] = {AttentionKind::kSlidingWindow, 32, 10000.0f, 0};
  c.layers[2] = {AttentionKind::kSlidingWindow, 32, 10000.0f, 0};
  CHECK(c.attention_window(0) == 32);
  CHECK(c.attention_window(1) == 0);
  CHECK(c.n_sliding_window_layers() == 2);
}

}  // namespace
}  // namespace llmos::engine
