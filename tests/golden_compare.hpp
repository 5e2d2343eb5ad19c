// Checks a model against llama.cpp's greedy references (../shared/golden: per
// case prompt_ids, generated_ids, step_margins, step_top5_probs; the READMEs
// there give the rules), each sequence alone and all of them through the
// engine. Test-only, shared by the golden tests; one fixture per test case.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmos/driver/device.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/model/memory_estimate.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::golden {

// The device the golden tests run on: built twice, for the CPU driver and,
// with LLMOS_GOLDEN_CUDA, for the CUDA driver; test names say which.
#ifdef LLMOS_GOLDEN_CUDA
constexpr driver::DeviceKind kDevice = driver::DeviceKind::kCuda;
#define DEVICE_TEST_NAME(name) "cuda: " name
#else
constexpr driver::DeviceKind kDevice = driver::DeviceKind::kCpu;
#define DEVICE_TEST_NAME(name) "cpu: " name
#endif

// Below this top-2 margin either token is a correct answer (the READMEs' rule).
constexpr double kNearTie = 0.005;

// A model with its tokenizer and its reference file.
struct GoldenFixture {
  nlohmann::json golden;
  std::unique_ptr<engine::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

// Loads `model_path` on `device` (2 threads) and the references in `golden_path`.
inline void load_fixture(const std::string& model_path, const std::string& golden_path, driver::DeviceKind device,
                         int max_outputs, GoldenFixture& fx) {
  std::ifstream in(golden_path);
  REQUIRE_MESSAGE(in.good(), golden_path);
  fx.golden = nlohmann::json::parse(in);
  auto file = gguf::GgufFile::open(model_path);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  auto t = tokenizer::tokenizer_from_gguf(**file);
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  fx.tok = std::make_unique<tokenizer::Tokenizer>(std::move(*t));
  driver::DriverOptions dopts;
  dopts.threads = 2;
  auto drv = driver::make_driver(device, dopts);
  REQUIRE_MESSAGE(drv.ok(), drv.status().to_string());
  engine::ModelOptions mopts;
  mopts.max_outputs = max_outputs;
  auto m = engine::load_model(std::move(*file), std::move(*drv), mopts);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  fx.model = std::move(*m);
}

// Number of leading generated ids that must agree: up to and including the
// first near-tie step (after it, either token is a correct answer).
inline size_t strict_prefix(const nlohmann::json& c) {
  const auto& margins = c["step_margins"];
  for (size_t i = 0; i < margins.size(); ++i) {
    if (margins[i].get<double>() < kNearTie) return i;
  }
  return margins.size();
}

inline std::vector<double> softmax(const float* logits, int n) {
  float mx = *std::max_element(logits, logits + n);
  std::vector<double> p(static_cast<size_t>(n));
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += p[size_t(i)] = std::exp(double(logits[i]) - mx);
  for (auto& v : p) v /= sum;
  return p;
}

// The widest sliding window of the model's layers; 0 when it has none.
inline int model_window(const engine::ModelConfig& c) {
  int w = 0;
  for (int l = 0; l < c.n_layers; ++l) w = std::max(w, c.attention_window(l));
  return w;
}

// Blocks that hold the positions one token's window reaches back over, plus
// the block it starts in part-way: what a decoding sequence keeps per table.
inline int window_blocks_bound(int window, int block_size) { return (window + block_size - 1) / block_size + 1; }

// How far each top-5 probability and their mean may be from llama.cpp's.
struct ProbTolerance {
  double each;
  double mean;
};

// Each case alone, one forward step per token (the prompt in one step), with
// a `kv_type` KV cache: prompt ids, greedy ids up to the strict prefix, and
// every top-5 probability. With `check_text`, a case generated in full must
// decode to its "text". `label` names the model in the messages. A model with
// sliding layers gets them their own block table, which gives back the blocks
// each step's window has passed, as the engine does.
inline void check_alone(const GoldenFixture& fx, const std::string& label, DType kv_type, ProbTolerance tol,
                        bool check_text) {
  double max_dev = 0, sum_dev = 0;
  int n_dev = 0;
  const auto& cfg = fx.model->config();
  for (const auto& c : fx.golden["cases"]) {
    const std::string prompt = c["prompt"];
    CAPTURE(label);
    CAPTURE(prompt);
    std::vector<int32_t> ids = fx.tok->encode(prompt, true);
    CHECK(ids == c["prompt_ids"].get<std::vector<int32_t>>());
    const auto want = c["generated_ids"].get<std::vector<int32_t>>();
    const size_t strict = strict_prefix(c);
    // As the engine lays it out: sliding layers in planes of their own blocks.
    auto geometry = model::kv_cache_geometry(cfg, 8 * 16, 16, kv_type);
    REQUIRE(geometry.ok());
    const KvGeometry layout = *geometry;
    auto kv = engine::KvCache::allocate(fx.model->driver(), layout);
    REQUIRE(kv.ok());
    engine::KvBlockPool pool(layout.n_blocks);
    engine::BlockTable table(16);
    const int window = model_window(cfg);
    REQUIRE(layout.n_window_layers() == cfg.n_sliding_window_layers());
    engine::KvBlockPool window_pool(layout.n_window_blocks);  // the sliding layers' blocks, in their planes
    engine::BlockTable window_table(16);
    int released = 0;
    std::vector<float> logits(size_t(cfg.n_vocab));
    int n_cached = 0;
    size_t matched = 0;
    for (size_t step = 0; step < want.size(); ++step) {
      // Feed every token not yet in the cache: the prompt first, then one at a time.
      const int n = int(ids.size()) - n_cached;
      REQUIRE(table.reserve(pool, int(ids.size())));
      if (window > 0) REQUIRE(window_table.reserve(window_pool, int(ids.size())));
      std::vector<int32_t> pos(static_cast<size_t>(n)), seq(static_cast<size_t>(n), 0), slots(static_cast<size_t>(n));
      std::vector<int32_t> wslots(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        pos[size_t(i)] = n_cached + i;
        slots[size_t(i)] = table.slot(n_cached + i);
        if (window > 0) wslots[size_t(i)] = window_table.slot(n_cached + i);
      }
      std::vector<int32_t> bt(table.blocks().begin(), table.blocks().end());
      std::vector<int32_t> wbt(window_table.blocks().begin(), window_table.blocks().end());
      wbt.resize(bt.size(), -1);
      int32_t out_row = n - 1;
      driver::StepBatch b{n, ids.data() + n_cached, pos.data(), seq.data(), slots.data(),
                          1, int(bt.size()), bt.data(), 1, &out_row};
      if (window > 0) {
        b.window_kv_slots = wslots.data();
        b.window_block_tables = wbt.data();
      }
      fx.model->forward(b, **kv, logits.data());
      n_cached = int(ids.size());
      if (window > 0) {
        // The next token sees back to n_cached - window + 1; what is before goes.
        released += window_table.release_before(window_pool, n_cached + 1 - window);
        CHECK(window_table.n_held() <= window_blocks_bound(window, 16));
        CHECK(window_pool.n_used() == window_table.n_held());
      }
      const auto p = softmax(logits.data(), cfg.n_vocab);
      for (const auto& pair : c["step_top5_probs"][step]) {
        const int id = pair[0];
        const double dev = std::fabs(p[size_t(id)] - pair[1].get<double>());
        max_dev = std::max(max_dev, dev);
        sum_dev += dev;
        ++n_dev;
        CHECK_MESSAGE(dev < tol.each, "step " << step << " token " << id);
      }
      const int32_t got = int32_t(std::max_element(p.begin(), p.end()) - p.begin());
      if (got != want[step]) {
        CHECK_MESSAGE(step >= strict, "step " << step << ": got " << got << ", llama.cpp " << want[step]);
        MESSAGE("near-tie at step " << step << ": continuation legitimately differs");
        break;
      }
      ++matched;
      ids.push_back(got);
    }
    // Far past the window, the sliding layers gave back what it passed.
    if (window > 0 && int(ids.size()) > window + 2 * 16) CHECK(released > 0);
    if (check_text && matched == want.size()) {
      std::vector<int32_t> gen(ids.end() - long(want.size()), ids.end());
      CHECK(fx.tok->decode(gen) == c["text"].get<std::string>());
    }
  }
  MESSAGE(label << ": top-5 probabilities vs llama.cpp: max deviation " << max_dev << ", mean "
                << sum_dev / std::max(n_dev, 1) << " over " << n_dev << " values");
  REQUIRE(n_dev > 0);
  CHECK(sum_dev / n_dev < tol.mean);
}

// Every case at once through the continuous-batching engine (8 sequences, a
// `kv_type` KV cache), greedy: the same ids as llama.cpp up to each strict prefix.
inline void check_batched(const GoldenFixture& fx, const std::string& label, DType kv_type) {
  engine::EngineOptions eo;
  eo.max_seqs = 8;
  eo.kv_tokens = 4 * 512;
  eo.kv_type = kv_type;
  auto eng = engine::Engine::create(*fx.model, eo);
  REQUIRE(eng.ok());
  const auto& cases = fx.golden["cases"];
  std::vector<std::vector<int32_t>> got(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    engine::GenerationRequest r;
    r.id = i;
    r.prompt = cases[i]["prompt_ids"].get<std::vector<int32_t>>();
    r.max_tokens = int(cases[i]["generated_ids"].size());
    r.stop_ids = {fx.tok->eos_id()};
    r.sampling.temperature = 0;  // greedy, as the references were made
    REQUIRE((*eng)->submit(std::move(r)).ok());
  }
  std::vector<engine::TokenEvent> events;
  const int window = model_window(fx.model->config());
  int steps = 0, max_window_used = 0, max_used = 0;
  while ((*eng)->has_work() && steps < 1000) {
    events.clear();
    (*eng)->step(events);
    ++steps;
    for (const auto& ev : events) {
      if (ev.token >= 0) got[ev.request_id].push_back(ev.token);
    }
    // After each step a running sequence's sliding layers hold only its window.
    const engine::EngineStats st = (*eng)->stats();
    CHECK(st.kv_window_blocks_used <= st.running * window_blocks_bound(window, eo.block_size));
    max_window_used = std::max(max_window_used, st.kv_window_blocks_used);
    max_used = std::max(max_used, st.kv_blocks_used);
  }
  if (window > 0) {
    const engine::EngineStats st = (*eng)->stats();
    CHECK(st.kv_window_blocks_total > 0);
    // The sliding layers' planes hold a window per sequence, not the capacity.
    CHECK(st.kv_window_blocks_total == eo.max_seqs * window_blocks_bound(window, eo.block_size));
    CHECK(st.kv_window_blocks_total < st.kv_blocks_total);
    CHECK(st.kv_window_blocks_used == 0);  // every sequence gave its blocks back
    MESSAGE(label << ": most blocks held at once: " << max_used << " (all layers' positions), "
                  << max_window_used << " (sliding layers)");
    CHECK(max_window_used < max_used);  // sequences far past the window keep only it
  } else {
    CHECK((*eng)->stats().kv_window_blocks_total == 0);
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto want = cases[i]["generated_ids"].get<std::vector<int32_t>>();
    const size_t strict = strict_prefix(cases[i]);
    CAPTURE(label);
    CAPTURE(i);
    REQUIRE(got[i].size() == want.size());
    for (size_t s = 0; s < want.size(); ++s) {
      if (got[i][s] != want[s]) {
        CHECK_MESSAGE(s >= strict, "case " << i << " step " << s);
        break;
      }
    }
  }
}

}  // namespace llmos::golden
