// Generation on every model of ../shared/models/quant (one small model per
// llama-quantize type, and K-quant mixes whose rows force fallback types)
// against llama.cpp's greedy references, with the comparison rules of
// ../shared/golden/quant/README.md for quantized weights:
//  - teacher-forced (prompt + reference tokens, one distribution per step):
//    every step's largest |p - p_ref| over the reference top five <= 6e-2, the
//    file's median <= 1e-2, the argmax equal to the reference wherever its
//    margin is >= 0.1 (BF16: within 1e-2, argmax equal from margin 0.005);
//  - free-running greedy through the continuous-batching engine, all prompts
//    at once: ids equal up to the first step whose margin is below 0.1.
// Teacher forcing runs each prompt alone and all prompts in one batch. Files
// holding a type llmos does not read yet are listed, not failed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "llmos/driver/device.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "golden_compare.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "shared_dir.hpp"

namespace llmos {
namespace {

struct Rules {
  double max_step_dev, max_median_dev, argmax_margin;
};
constexpr Rules kQuantRules{6e-2, 1e-2, 0.1};
constexpr Rules kBf16Rules{1e-2, 1e-2, 0.005};

struct Reference {
  std::string name;  // e.g. rand3m-Q4_K_M
  nlohmann::json golden;
};

std::vector<Reference> references() {
  std::vector<Reference> out;
  const std::filesystem::path dir = testing::shared_dir() + "/golden/quant";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    if (e.path().extension() != ".json" || !(f.starts_with("rand3m-") || f.starts_with("stories260K-"))) continue;
    std::ifstream in(e.path());
    out.push_back({e.path().stem().string(), nlohmann::json::parse(in)});
  }
  std::sort(out.begin(), out.end(), [](const Reference& a, const Reference& b) { return a.name < b.name; });
  return out;
}

std::unique_ptr<engine::Model> load(const std::string& model_rel, std::string* unsupported) {
  auto file = gguf::GgufFile::open(testing::shared_dir() + "/" + model_rel);
  if (!file.ok() && file.status().code() == ErrorCode::kUnimplemented) {
    *unsupported = file.status().message();
    return nullptr;
  }
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  driver::DriverOptions dopts;
  dopts.threads = 2;
  auto drv = driver::make_driver(driver::DeviceKind::kCpu, dopts);
  REQUIRE_MESSAGE(drv.ok(), drv.status().to_string());
  engine::ModelOptions mopts;
  mopts.max_outputs = 256;
  auto m = engine::load_model(std::move(*file), std::move(*drv), mopts);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  return std::move(*m);
}

// Teacher-forced forward of `cases` (indices into golden["cases"]) in one step
// batch; appends each step's deviation and checks the argmax rule.
void teacher_forced(engine::Model& model, const nlohmann::json& golden, const std::vector<size_t>& cases,
                    const Rules& rules, std::vector<double>& devs) {
  const auto& cfg = model.config();
  constexpr int kBlock = 16;
  std::vector<int32_t> ids, pos, seq, slots, out_rows, bt;
  struct Seq {
    size_t c;
    int first_output;
  };
  std::vector<Seq> seqs;
  int max_blocks = 0;
  std::vector<std::vector<int32_t>> tables;
  int next_block = 0;
  for (size_t s = 0; s < cases.size(); ++s) {
    const auto& c = golden["cases"][cases[s]];
    std::vector<int32_t> toks = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto gen = c["generated_ids"].get<std::vector<int32_t>>();
    const size_t n_prompt = toks.size();
    toks.insert(toks.end(), gen.begin(), gen.end());
    const int n_blocks = (int(toks.size()) + kBlock - 1) / kBlock;
    tables.emplace_back();
    for (int b = 0; b < n_blocks; ++b) tables.back().push_back(next_block++);
    max_blocks = std::max(max_blocks, n_blocks);
    seqs.push_back({cases[s], int(out_rows.size())});
    for (size_t i = 0; i < toks.size(); ++i) {
      // The distribution after prompt + gen[0..k) is the output of token n_prompt - 1 + k.
      if (i + 1 >= n_prompt && i + 1 - n_prompt < gen.size()) out_rows.push_back(int32_t(ids.size()));
      ids.push_back(toks[i]);
      pos.push_back(int32_t(i));
      seq.push_back(int32_t(s));
      slots.push_back(tables.back()[i / kBlock] * kBlock + int32_t(i % kBlock));
    }
  }
  for (const auto& t : tables) {
    bt.insert(bt.end(), t.begin(), t.end());
    bt.insert(bt.end(), size_t(max_blocks) - t.size(), t.back());
  }
  REQUIRE(int(ids.size()) <= model.options().max_batch_tokens);
  KvGeometry layout{cfg.n_layers, next_block, kBlock, cfg.n_kv_heads, cfg.head_dim, DType::kF16};
  auto kv = engine::KvCache::allocate(model.driver(), layout);
  REQUIRE(kv.ok());
  std::vector<float> logits(out_rows.size() * size_t(cfg.n_vocab));
  driver::StepBatch b{int(ids.size()), ids.data(), pos.data(), seq.data(), slots.data(), int(seqs.size()),
                      max_blocks, bt.data(), int(out_rows.size()), out_rows.data()};
  model.forward(b, **kv, logits.data());

  for (const Seq& s : seqs) {
    const auto& c = golden["cases"][s.c];
    const auto gen = c["generated_ids"].get<std::vector<int32_t>>();
    for (size_t step = 0; step < gen.size(); ++step) {
      const auto p = golden::softmax(logits.data() + (size_t(s.first_output) + step) * size_t(cfg.n_vocab), cfg.n_vocab);
      double dev = 0;
      for (const auto& pair : c["step_top5_probs"][step])
        dev = std::max(dev, std::fabs(p[size_t(pair[0].get<int>())] - pair[1].get<double>()));
      devs.push_back(dev);
      CHECK_MESSAGE(dev <= rules.max_step_dev, "case " << s.c << " step " << step << ": |p - p_ref| " << dev);
      const double margin = c["step_margins"][step];
      const auto got = int32_t(std::max_element(p.begin(), p.end()) - p.begin());
      if (margin >= rules.argmax_margin)
        CHECK_MESSAGE(got == gen[step], "case " << s.c << " step " << step << " (margin " << margin << "): got "
                                                << got << ", llama.cpp " << gen[step]);
    }
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Greedy through the engine, every prompt at once.
void free_running(engine::Model& model, const nlohmann::json& golden, const Rules& rules) {
  engine::EngineOptions eo;
  eo.max_seqs = 8;
  eo.kv_tokens = 4 * 512;
  auto eng = engine::Engine::create(model, eo);
  REQUIRE(eng.ok());
  const auto& cases = golden["cases"];
  std::vector<std::vector<int32_t>> got(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    engine::GenerationRequest r;
    r.id = i;
    r.prompt = cases[i]["prompt_ids"].get<std::vector<int32_t>>();
    r.max_tokens = int(cases[i]["generated_ids"].size());
    r.stop_ids = {2};
    r.sampling.temperature = 0;
    REQUIRE((*eng)->submit(std::move(r)).ok());
  }
  std::vector<engine::TokenEvent> events;
  for (int steps = 0; (*eng)->has_work() && steps < 1000; ++steps) {
    events.clear();
    (*eng)->step(events);
    for (const auto& ev : events)
      if (ev.token >= 0) got[ev.request_id].push_back(ev.token);
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto want = cases[i]["generated_ids"].get<std::vector<int32_t>>();
    const auto& margins = cases[i]["step_margins"];
    for (size_t s = 0; s < want.size() && s < got[i].size(); ++s) {
      if (got[i][s] != want[s]) {
        bool excused = false;
        for (size_t k = 0; k <= s; ++k) excused = excused || margins[k].get<double>() < rules.argmax_margin;
        CHECK_MESSAGE(excused, "case " << i << " step " << s << ": got " << got[i][s] << ", llama.cpp " << want[s]);
        break;
      }
    }
  }
}

TEST_CASE("every quantized model file generates llama.cpp's tokens and probabilities (alone and batched)") {
  int checked = 0;
  std::vector<std::string> waiting;
  for (const Reference& ref : references()) {
    CAPTURE(ref.name);
    std::string why;
    auto model = load(ref.golden["model"].get<std::string>(), &why);
    if (!model) {
      const size_t at = why.find("has type ");
      const std::string type = at == std::string::npos ? why : why.substr(at + 9, why.find(' ', at + 9) - at - 9);
      waiting.push_back(ref.name + " (" + type + ")");
      continue;
    }
    const Rules rules = ref.name.find("BF16") != std::string::npos ? kBf16Rules : kQuantRules;
    std::vector<double> devs;
    std::vector<size_t> all;
    for (size_t c = 0; c < ref.golden["cases"].size(); ++c) {
      teacher_forced(*model, ref.golden, {c}, rules, devs);
      all.push_back(c);
    }
    const double med = median(devs);
    const double worst = devs.empty() ? 0 : *std::max_element(devs.begin(), devs.end());
    CHECK_MESSAGE(med <= rules.max_median_dev, ref.name << ": median |p - p_ref| " << med);
    std::vector<double> batched;
    teacher_forced(*model, ref.golden, all, rules, batched);
    CHECK(median(batched) <= rules.max_median_dev);
    free_running(*model, ref.golden, rules);
    MESSAGE(ref.name << ": teacher-forced median " << med << ", worst " << worst << " (batched median "
                     << median(batched) << ")");
    ++checked;
  }
  std::string w;
  for (const auto& s : waiting) w += "\n  " + s;
  MESSAGE(checked << " files checked; waiting for types llmos does not read:" << w);
  CHECK(checked >= 27);
}

}  // namespace
}  // namespace llmos
