// End-to-end over the model families: one llmos system loads every
// architecture fixture (../shared/models/arch/, one llmos-model process each)
// and `llmos generate` gives llama.cpp's greedy tokens for every prompt
// (../shared/golden/arch/, up to the first near-tie), the same ids as
// `llmos generate --local`; the kernel's memory estimate for each is the one
// `llmos inspect` prints.
#include <doctest/doctest.h>

#include <fstream>

#include "system_harness.hpp"

namespace llmos::testing {
namespace {

constexpr const char* kArchitectures[] = {"llama3", "mixtral", "qwen2", "qwen3", "qwen3moe", "phi3", "gemma3"};

std::string arch_model(const std::string& arch) { return models_dir() + "/arch/" + arch + ".gguf"; }

nlohmann::json arch_golden(const std::string& arch) {
  std::ifstream in(shared_dir() + "/golden/arch/" + arch + ".json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::vector<int32_t> ids_of(const ProcessResult& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(r.out)["ids"].get<std::vector<int32_t>>();
}

// Ids must match up to and including the first near-tie step.
void check_ids(const std::vector<int32_t>& got, const nlohmann::json& c) {
  const auto want = c["generated_ids"].get<std::vector<int32_t>>();
  const size_t strict = golden_strict_prefix(c);
  REQUIRE(got.size() == want.size());
  for (size_t s = 0; s < want.size(); ++s) {
    if (got[s] != want[s]) {
      CHECK_MESSAGE(s >= strict, "step " << s << ": got " << got[s] << ", llama.cpp " << want[s]);
      break;
    }
  }
}

TEST_CASE("every family loads into one system and generates llama.cpp's tokens, as generate --local does") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  for (const char* arch : kArchitectures) {
    auto load = sys.llmos({"load", arch_model(arch), "--name", arch, "--threads", "1"});
    REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  }
  auto ps = sys.ps();
  REQUIRE(ps["models"].size() == std::size(kArchitectures));
  for (const auto& m : ps["models"]) {
    const std::string name = m["name"];
    CAPTURE(name);
    CHECK(m["state"] == "ready");
    auto inspect = run_process({kLlmos, "inspect", arch_model(name), "--json", "--ctx",
                                std::to_string(m["ctx"].get<uint64_t>())});
    REQUIRE_MESSAGE(inspect.exit_code == 0, inspect.err);
    const auto memory = nlohmann::json::parse(inspect.out)["memory"];
    CHECK(memory["weights_bytes"] == m["weights_bytes"]);
    CHECK(memory["kv_cache_bytes"] == m["kv_bytes"]);
    CHECK(memory["kv_window_layers"] == (name == "gemma3" ? 5 : 0));  // gemma3's sliding layers hold their windows
  }
  for (const char* arch : kArchitectures) {
    const auto golden = arch_golden(arch);
    for (const auto& c : golden["cases"]) {
      const std::string prompt = c["prompt"];
      CAPTURE(arch);
      CAPTURE(prompt);
      const auto got = ids_of(sys.llmos({"generate", arch, prompt, "--temperature", "0", "-n", "48", "--json"}));
      check_ids(got, c);
      const auto local = ids_of(run_process({kLlmos, "generate", "--local", "--model", arch_model(arch), "--prompt",
                                             prompt, "--temperature", "0", "-n", "48", "--json"}));
      CHECK(local == got);
    }
  }
}

}  // namespace
}  // namespace llmos::testing
