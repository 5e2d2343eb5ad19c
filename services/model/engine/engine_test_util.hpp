// Test helpers for the engine's tests: the seeded synthetic "tiny" model (dim
// 64, 2 layers, vocab 512), written once per test process to a temporary
// folder removed at exit, a set of greedy requests, and a run to the end.
// Test-only; single-thread.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "llmos/driver/device.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/modelgen/model_gen.hpp"

namespace llmos::engine {

inline constexpr int kCtx = 128;  // 8 blocks of 16

// The "tiny" synthetic model (dim 64, 2 layers, vocab 512), written once per
// test process to a temporary folder removed at exit.
inline const std::string& tiny_model_path() {
  struct File {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("llmos-engine-test-" + std::to_string(::getpid()));
    std::string path = (dir / "tiny.gguf").string();
    File() {
      std::filesystem::create_directories(dir);
      auto spec = modelgen::preset_spec("tiny");
      REQUIRE(spec.ok());
      REQUIRE(modelgen::write_model(*spec, path).ok());
    }
    ~File() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const File file;
  return file.path;
}

inline std::unique_ptr<Model> tiny_model() {
  auto file = gguf::GgufFile::open(tiny_model_path());
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  driver::DriverOptions dopts;
  dopts.threads = 2;
  auto drv = driver::make_driver(driver::DeviceKind::kCpu, dopts);
  REQUIRE(drv.ok());
  ModelOptions mopts;
  mopts.max_outputs = 8;
  auto m = load_model(std::move(*file), std::move(*drv), mopts);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  return std::move(*m);
}

inline std::vector<GenerationRequest> requests(int n) {
  std::mt19937 rng(7);
  std::vector<GenerationRequest> out;
  for (int i = 0; i < n; ++i) {
    GenerationRequest r;
    r.id = uint64_t(i + 1);
    r.prompt.resize(size_t(20 + 7 * i));
    for (auto& t : r.prompt) t = int32_t(3 + rng() % 500);
    r.sampling.temperature = 0;
    r.max_tokens = 60;
    out.push_back(std::move(r));
  }
  return out;
}

struct Run {
  std::map<uint64_t, std::vector<int32_t>> tokens;
  EngineStats stats;
  std::unique_ptr<Engine> engine;  // kept, with the swap space it owns
};

// Runs `reqs` to the end; kv_tokens = 0 gives one context (tight for several).
inline Run run(Model& model, int kv_tokens, std::unique_ptr<KvSwapSpace> swap,
               const std::vector<GenerationRequest>& reqs) {
  EngineOptions o;
  o.max_seqs = 8;
  o.ctx_len = kCtx;
  o.kv_tokens = kv_tokens;
  auto eng = Engine::create(model, o);
  REQUIRE_MESSAGE(eng.ok(), eng.status().to_string());
  if (swap) (*eng)->set_swap_space(std::move(swap));
  for (const auto& r : reqs) REQUIRE((*eng)->submit(r).ok());
  Run out;
  std::vector<TokenEvent> events;
  for (int steps = 0; (*eng)->has_work(); ++steps) {
    REQUIRE(steps < 5000);
    events.clear();
    (*eng)->step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) out.tokens[ev.request_id].push_back(ev.token);
    }
  }
  out.stats = (*eng)->stats();
  out.engine = std::move(eng).value();
  return out;
}

}  // namespace llmos::engine
