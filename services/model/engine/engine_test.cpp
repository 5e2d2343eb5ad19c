// The engine under KV pressure: preemption with and without a swap space, on a
// seeded synthetic model (the tokens of a run are compared between runs, not
// against a reference implementation; golden checks are in tests/).
#include "llmos/engine/engine.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "llmos/driver/device.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/modelgen/model_gen.hpp"

namespace llmos::engine {
namespace {

constexpr int kCtx = 128;  // 8 blocks of 16

// The "tiny" synthetic model (dim 64, 2 layers, vocab 512), written once per
// test process to a temporary folder removed at exit.
const std::string& tiny_model_path() {
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

std::unique_ptr<LlamaModel> tiny_model() {
  auto file = gguf::GgufFile::open(tiny_model_path());
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  driver::DriverOptions dopts;
  dopts.threads = 2;
  auto drv = driver::make_driver(driver::DeviceKind::kCpu, dopts);
  REQUIRE(drv.ok());
  ModelOptions mopts;
  mopts.max_outputs = 8;
  auto m = LlamaModel::load(std::move(*file), std::move(*drv), mopts);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  return std::move(*m);
}

std::vector<GenerationRequest> requests(int n) {
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
};

// Runs `reqs` to the end; kv_tokens = 0 gives one context (tight for several).
Run run(LlamaModel& model, int kv_tokens, std::unique_ptr<KvSwapSpace> swap,
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
  return out;
}

// Refuses to keep anything, as a full or unreachable memory service does.
class RefusingSwapSpace final : public KvSwapSpace {
 public:
  Status save(uint64_t id, std::span<const int32_t>, KvCache&, std::span<const int32_t>) override {
    return overloaded("request " + std::to_string(id) + ": full");
  }
  Status load(uint64_t id, std::span<const int32_t>, KvCache&, std::span<const int32_t>) override {
    return not_found("request " + std::to_string(id));
  }
  void drop(uint64_t) override {}
};

// Keeps everything but loses it on the way back (a load that times out after
// scribbling over the blocks).
class ForgetfulSwapSpace final : public KvSwapSpace {
 public:
  Status save(uint64_t, std::span<const int32_t>, KvCache&, std::span<const int32_t>) override {
    return ok_status();
  }
  Status load(uint64_t id, std::span<const int32_t>, KvCache& kv, std::span<const int32_t> blocks) override {
    std::vector<std::byte> junk(kv.block_bytes(), std::byte{0x7b});
    for (int32_t b : blocks) kv.write_block(b, junk);
    return disconnected("request " + std::to_string(id) + ": no answer in time");
  }
  void drop(uint64_t) override { ++drops; }
  int drops = 0;
};

TEST_CASE("under KV pressure, swapped-out sequences resume with the tokens of an unpreempted run") {
  auto model = tiny_model();
  const auto reqs = requests(6);
  const Run roomy = run(*model, 8 * kCtx, nullptr, reqs);
  CHECK(roomy.stats.preemptions == 0);
  REQUIRE(roomy.tokens.size() == 6);

  const Run recompute = run(*model, 0, nullptr, reqs);
  auto host = std::make_unique<HostKvSwapSpace>(64u << 20);
  HostKvSwapSpace* swap = host.get();
  const Run swapped = run(*model, 0, std::move(host), reqs);

  CHECK(recompute.stats.preemptions > 0);
  CHECK(recompute.tokens == roomy.tokens);
  CHECK(swapped.stats.preemptions > 0);
  CHECK(swapped.stats.swaps_out > 0);
  CHECK(swapped.stats.swaps_in == swapped.stats.swaps_out);
  CHECK(swapped.stats.swap_fallbacks == 0);
  CHECK(swapped.tokens == roomy.tokens);
  CHECK(swapped.stats.tokens_recomputed < recompute.stats.tokens_recomputed);
  CHECK(swap->entries() == 0);  // every swap was taken back
  MESSAGE("preemptions " << recompute.stats.preemptions << " / " << swapped.stats.preemptions
                         << "; tokens recomputed without swap " << recompute.stats.tokens_recomputed
                         << ", with swap " << swapped.stats.tokens_recomputed << " ("
                         << swapped.stats.tokens_swapped_in << " swapped in)");
}

TEST_CASE("a swap space that refuses or loses the KV costs recomputation, never other tokens") {
  auto model = tiny_model();
  const auto reqs = requests(6);
  const Run roomy = run(*model, 8 * kCtx, nullptr, reqs);

  const Run refused = run(*model, 0, std::make_unique<RefusingSwapSpace>(), reqs);
  CHECK(refused.stats.preemptions > 0);
  CHECK(refused.stats.swaps_out == 0);
  CHECK(refused.stats.swap_fallbacks == refused.stats.preemptions);
  CHECK(refused.tokens == roomy.tokens);

  auto forgetful = std::make_unique<ForgetfulSwapSpace>();
  ForgetfulSwapSpace* f = forgetful.get();
  const Run lost = run(*model, 0, std::move(forgetful), reqs);
  CHECK(lost.stats.swaps_out > 0);
  CHECK(lost.stats.swaps_in == 0);
  CHECK(lost.stats.swap_fallbacks == lost.stats.swaps_out);
  CHECK(f->drops >= int(lost.stats.swap_fallbacks));
  CHECK(lost.tokens == roomy.tokens);
}

TEST_CASE("a cancelled sequence that waits swapped out gives its swap back") {
  auto model = tiny_model();
  EngineOptions o;
  o.max_seqs = 8;
  o.ctx_len = kCtx;
  auto eng = Engine::create(*model, o);
  REQUIRE(eng.ok());
  auto host = std::make_unique<HostKvSwapSpace>(64u << 20);
  HostKvSwapSpace* swap = host.get();
  (*eng)->set_swap_space(std::move(host));
  for (const auto& r : requests(6)) REQUIRE((*eng)->submit(r).ok());
  std::vector<TokenEvent> events;
  while (swap->entries() == 0) {
    REQUIRE((*eng)->has_work());
    (*eng)->step(events);
  }
  for (uint64_t id = 1; id <= 6; ++id) (*eng)->cancel(id);
  events.clear();
  (*eng)->step(events);
  CHECK(events.size() == 6);
  CHECK_FALSE((*eng)->has_work());
  CHECK(swap->entries() == 0);
  CHECK(swap->used_bytes() == 0);
}

}  // namespace
}  // namespace llmos::engine
