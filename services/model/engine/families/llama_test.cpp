// The llama family: what it runs (the golden tests check the tokens) and what
// files of its architectures it refuses, naming the tensor or key.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "engine_test_util.hpp"
#include "llmos/engine/model_family.hpp"
#include "shared_dir.hpp"
#include "skip.hpp"

namespace llmos::engine {
namespace {

Result<std::unique_ptr<Model>> load_path(const std::string& path) {
  LLMOS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  LLMOS_ASSIGN_OR_RETURN(auto drv, driver::make_driver(driver::DeviceKind::kCpu, driver::DriverOptions{1}));
  return load_model(std::move(file), std::move(drv), ModelOptions{});
}

std::string arch_fixture(const char* name) {
  const std::string shared = llmos::testing::shared_dir();
  const std::string path = shared + "/models/arch/" + name + ".gguf";
  return shared.empty() || !std::filesystem::exists(path) ? std::string() : path;
}

TEST_CASE("the llama family runs stories260K (a real llama file)" * doctest::test_suite("external")) {
  const std::string shared = llmos::testing::shared_dir();
  if (shared.empty()) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  auto m = load_path(shared + "/models/stories260K.gguf");
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  const ModelConfig& c = (*m)->config();
  CHECK(c.n_layers == 5);
  CHECK(c.head_dim == 8);
  CHECK((*m)->weight_bytes() == (*m)->file().total_tensor_bytes());
}

TEST_CASE("Llama 3 (rope_freqs) and Mixtral (experts) files load; the golden tests check their tokens" * doctest::test_suite("external")) {
  const std::string llama3 = arch_fixture("llama3");
  const std::string mixtral = arch_fixture("mixtral");
  if (llama3.empty() || mixtral.empty()) {
    llmos::testing::skip("no shared models folder (set LLMOS_SHARED_DIR)");
    return;
  }
  auto m = load_path(llama3);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  CHECK((*m)->config().rope_freq_base == 500000.0f);
  CHECK_FALSE((*m)->config().tied_output);
  auto x = load_path(mixtral);
  REQUIRE_MESSAGE(x.ok(), x.status().to_string());
  CHECK((*x)->config().n_experts == 4);
  CHECK((*x)->config().n_experts_used == 2);
  CHECK((*x)->config().expert_ffn_dim == 512);
}

}  // namespace
}  // namespace llmos::engine
