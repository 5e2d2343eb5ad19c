// The whole model on the GPU against the CPU driver: seeded synthetic llama
// models (llmos-mkmodel's generator) in every weight type, one mixed step (a
// prompt chunk for the prefill kernel, a short run, a single token) then ten
// decode steps fed the CPU's greedy tokens (so both stay on one trajectory).
// Per step: max |logit difference| <= tol * max |cpu logit| (tol per type, from
// what the GPU rounds differently: f16/bf16 activations for cuBLAS, int8
// activations in the dp4a kernels), and the same argmax unless the CPU's top-2
// margin is within twice the observed difference.
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "cuda_test_util.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/modelgen/model_gen.hpp"

namespace llmos::cuda::testing {
namespace {

double tolerance(DType t) {
  switch (t) {
    case DType::kF32: return 1e-4;
    case DType::kF16: return 1e-2;
    case DType::kBF16: return 3e-2;
    default: return 2e-2;
  }
}

struct TempModel {
  std::string path;
  explicit TempModel(DType t) {
    path = (std::filesystem::temp_directory_path() /
            ("llmos_cuda_model_test_" + std::to_string(getpid()) + "_" + std::string(dtype_name(t)) + ".gguf"))
               .string();
    modelgen::ModelSpec spec;
    spec.dim = 128;
    spec.n_layers = 2;
    spec.n_heads = 4;
    spec.n_kv_heads = 2;
    spec.ffn_dim = 256;
    spec.vocab_size = 512;
    spec.context_length = 256;
    spec.type = t;
    spec.seed = 7;
    auto r = modelgen::write_model(spec, path);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  ~TempModel() { std::filesystem::remove(path); }
};

std::unique_ptr<engine::Model> load(const std::string& path, std::unique_ptr<Driver> d) {
  auto file = gguf::GgufFile::open(path);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  engine::ModelOptions mo;
  mo.max_batch_tokens = 64;
  mo.max_outputs = 8;
  auto m = engine::load_model(std::move(*file), std::move(d), mo);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  return std::move(*m);
}

void compare_logits(const std::vector<float>& cpu, const std::vector<float>& gpu, int n_out, int n_vocab, double tol,
                    const std::string& what) {
  double max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    max_abs = std::max(max_abs, double(std::fabs(cpu[i])));
    max_diff = std::max(max_diff, std::isnan(gpu[i]) ? 1e30 : double(std::fabs(cpu[i] - gpu[i])));
  }
  CHECK_MESSAGE(max_diff <= tol * max_abs, what << ": max logit difference " << max_diff << " vs max |logit| "
                                                << max_abs);
  for (int o = 0; o < n_out; ++o) {
    const float* c = cpu.data() + size_t(o) * n_vocab;
    const float* g = gpu.data() + size_t(o) * n_vocab;
    const int ca = int(std::max_element(c, c + n_vocab) - c), ga = int(std::max_element(g, g + n_vocab) - g);
    if (ca != ga) {
      CHECK_MESSAGE(c[ca] - c[ga] <= 2 * max_diff, what << " output " << o << ": argmax " << ga << " vs cpu " << ca);
    }
  }
}

TEST_CASE("synthetic models in every weight type give the CPU driver's logits, prefill and decode") {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    CAPTURE(dtype_name(t));
    TempModel tm(t);
    auto cpu = load(tm.path, make_cpu());
    auto gpu = load(tm.path, make_gpu());
    const auto& c = cpu->config();
    KvGeometry L{c.n_layers, 48, 16, c.n_kv_heads, c.head_dim, DType::kF16};
    auto cpu_kv = engine::KvCache::allocate(cpu->driver(), L);
    auto gpu_kv = engine::KvCache::allocate(gpu->driver(), L);
    REQUIRE((cpu_kv.ok() && gpu_kv.ok()));

    // Three sequences, blocks interleaved: seq s owns blocks {s, s + 3, s + 6, ...}.
    const std::vector<int> prompt_len = {26, 5, 1};
    const int n_seqs = 3, max_blocks = 16;
    HostBatch b;
    b.n_seqs = n_seqs;
    b.max_blocks = max_blocks;
    b.tables.assign(size_t(n_seqs * max_blocks), -1);
    for (int s = 0; s < n_seqs; ++s)
      for (int i = 0; i < max_blocks; ++i) b.tables[size_t(s * max_blocks + i)] = s + 3 * i;
    auto slot = [&](int s, int pos) { return b.tables[size_t(s * max_blocks + pos / 16)] * 16 + pos % 16; };
    std::mt19937 rng(5);
    std::vector<int> len(n_seqs, 0);
    for (int s = 0; s < n_seqs; ++s) {
      for (int i = 0; i < prompt_len[size_t(s)]; ++i) {
        b.ids.push_back(int32_t(rng() % uint32_t(c.n_vocab)));
        b.pos.push_back(i);
        b.seq.push_back(s);
        b.slots.push_back(slot(s, i));
      }
      len[size_t(s)] = prompt_len[size_t(s)];
      b.out_rows.push_back(int32_t(b.pos.size()) - 1);
    }
    std::vector<float> cl(size_t(n_seqs * c.n_vocab)), gl(cl.size());
    for (int step = 0; step < 11; ++step) {
      CAPTURE(step);
      cpu->forward(b.view(), **cpu_kv, cl.data());
      gpu->forward(b.view(), **gpu_kv, gl.data());
      compare_logits(cl, gl, n_seqs, c.n_vocab, tolerance(t), "step " + std::to_string(step));
      // Next step: each sequence decodes the CPU's greedy token.
      HostBatch next = b;
      next.ids.clear();
      next.pos.clear();
      next.seq.clear();
      next.slots.clear();
      next.out_rows.clear();
      for (int s = 0; s < n_seqs; ++s) {
        const float* row = cl.data() + size_t(s) * c.n_vocab;
        next.ids.push_back(int32_t(std::max_element(row, row + c.n_vocab) - row));
        next.pos.push_back(len[size_t(s)]);
        next.seq.push_back(s);
        next.slots.push_back(slot(s, len[size_t(s)]));
        next.out_rows.push_back(s);
        ++len[size_t(s)];
      }
      b = next;
    }
  }
}

TEST_CASE("the continuous-batching engine runs mixed steps on the GPU") {
  TempModel tm(DType::kQ8_0);
  auto gpu = load(tm.path, make_gpu());
  engine::EngineOptions eo;
  eo.max_seqs = 4;
  eo.kv_tokens = 1024;
  auto eng = engine::Engine::create(*gpu, eo);
  REQUIRE_MESSAGE(eng.ok(), eng.status().to_string());
  for (uint64_t id = 0; id < 6; ++id) {
    engine::GenerationRequest r;
    r.id = id;
    for (int i = 0; i < 3 + int(id) * 9; ++i) r.prompt.push_back(int32_t((id * 31 + uint64_t(i) * 7) % 500));
    r.max_tokens = 12;
    r.sampling.temperature = 0;  // greedy
    REQUIRE((*eng)->submit(std::move(r)).ok());
  }
  std::vector<engine::TokenEvent> events;
  std::vector<int> tokens(6, 0), done(6, 0);
  for (int steps = 0; (*eng)->has_work() && steps < 500; ++steps) {
    events.clear();
    (*eng)->step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) ++tokens[ev.request_id];
      if (ev.done) ++done[ev.request_id];
    }
  }
  CHECK(driver::as_cuda_driver(gpu->driver())->status().ok());
  for (int i = 0; i < 6; ++i) {
    CHECK(tokens[size_t(i)] == 12);
    CHECK(done[size_t(i)] == 1);
  }
}

}  // namespace
}  // namespace llmos::cuda::testing
