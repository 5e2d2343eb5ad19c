// `llmos-bench engine`: prefill and decode throughput of the real engine path
// (schedule -> forward -> sample) on a GGUF model, against the memory-bandwidth
// roofline (batch-1 decode streams every weight once per token; of a mixture of
// experts only the routed ones: model::active_weight_bytes).
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_commands.hpp"
#include "llmos/driver/cpu_bench.hpp"
#include "llmos/driver/device.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/model/memory_estimate.hpp"

namespace llmos::bench {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<int32_t> random_prompt(int n, int n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(3, n_vocab - 1);  // past <unk>, <s>, </s>
  std::vector<int32_t> ids{1};
  while (int(ids.size()) < n) ids.push_back(dist(rng));
  return ids;
}

struct DecodeResult {
  double prefill_tps = 0;  // prompt tokens per second of the first step
  double decode_tps = 0;   // generated tokens per second once all sequences decode
};

// Runs `batch` sequences of `prompt` tokens each and `gen` decode steps.
DecodeResult run(engine::Model& model, int batch, int prompt, int gen, DType kv_type) {
  engine::EngineOptions eo;
  eo.max_seqs = batch;
  eo.ctx_len = prompt + gen + 1;
  eo.kv_tokens = batch * eo.ctx_len;
  eo.kv_type = kv_type;
  auto eng = engine::Engine::create(model, eo);
  if (!eng.ok()) {
    std::fprintf(stderr, "llmos-bench: %s\n", eng.status().to_string().c_str());
    std::exit(1);
  }
  for (int i = 0; i < batch; ++i) {
    engine::GenerationRequest r;
    r.id = uint64_t(i);
    r.prompt = random_prompt(prompt, model.config().n_vocab, uint64_t(i) + 1);
    r.sampling.temperature = 0.0f;
    r.max_tokens = gen + 1;  // no stop ids: every sequence runs the full length
    if (auto st = (*eng)->submit(std::move(r)); !st.ok()) {
      std::fprintf(stderr, "llmos-bench: %s\n", st.to_string().c_str());
      std::exit(1);
    }
  }
  std::vector<engine::TokenEvent> events;
  DecodeResult res;
  // Prefill: every step until each sequence has its first token.
  int first_tokens = 0;
  auto t0 = Clock::now();
  while (first_tokens < batch) {
    events.clear();
    (*eng)->step(events);
    first_tokens += int(events.size());
  }
  res.prefill_tps = double(batch) * prompt / seconds_since(t0);
  // Decode: `gen` steps, each producing one token per sequence.
  int produced = 0;
  t0 = Clock::now();
  for (int s = 0; s < gen && (*eng)->has_work(); ++s) {
    events.clear();
    (*eng)->step(events);
    produced += int(events.size());
  }
  res.decode_tps = produced / seconds_since(t0);
  return res;
}

// The next turn of a conversation: a first request of `prompt` tokens runs
// `gen` tokens; then a second whose prompt is the first's tokens and `turn`
// new ones. Returns the milliseconds from the second's submit to its first
// token, with the prefix cache on or off.
double followup_ttft_ms(engine::Model& model, int prompt, int gen, int turn, DType kv_type, bool cache) {
  engine::EngineOptions eo;
  eo.max_seqs = 1;
  eo.ctx_len = prompt + gen + turn + 2;
  eo.kv_type = kv_type;
  eo.prefix_cache = cache;
  auto eng = engine::Engine::create(model, eo);
  if (!eng.ok()) {
    std::fprintf(stderr, "llmos-bench: %s\n", eng.status().to_string().c_str());
    std::exit(1);
  }
  engine::GenerationRequest first;
  first.id = 1;
  first.prompt = random_prompt(prompt, model.config().n_vocab, 77);
  first.sampling.temperature = 0.0f;
  first.max_tokens = gen;
  engine::GenerationRequest next = first;
  if (!(*eng)->submit(std::move(first)).ok()) std::exit(1);
  std::vector<engine::TokenEvent> events;
  while ((*eng)->has_work()) {
    events.clear();
    (*eng)->step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) next.prompt.push_back(ev.token);
    }
  }
  const auto more = random_prompt(turn + 1, model.config().n_vocab, 78);
  next.prompt.insert(next.prompt.end(), more.begin() + 1, more.end());
  next.id = 2;
  next.max_tokens = 2;
  const auto t0 = Clock::now();
  if (!(*eng)->submit(std::move(next)).ok()) std::exit(1);
  for (bool got = false; !got;) {
    events.clear();
    (*eng)->step(events);
    got = !events.empty();
  }
  return 1e3 * seconds_since(t0);
}

}  // namespace

int run_engine_bench(int argc, char** argv) {
  std::string model_path, kv = "f16", device = "cpu";
  int threads = 0, prompt = 128, gen = 64, batch = 8;
  bool json = false;
  po::options_description opts("llmos-bench engine options");
  opts.add_options()("help,h", "show this help")("model,m", po::value(&model_path), "GGUF model file")(
      "threads,t", po::value(&threads)->default_value(0), "CPU threads; 0 = all cores")(
      "prompt-tokens,p", po::value(&prompt)->default_value(128), "prompt length for prefill")(
      "gen-tokens,g", po::value(&gen)->default_value(64), "decode steps to time")(
      "batch,b", po::value(&batch)->default_value(8), "sequences decoding together for the batched figure")(
      "kv", po::value(&kv)->default_value("f16"), "KV cache type: f16 or f32")(
      "device", po::value(&device)->default_value("cpu"), "cpu, cuda or auto")(
      "json", po::bool_switch(&json), "print one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "llmos-bench engine: %s\n", e.what());
    return 2;
  }
  if (vm.count("help") || model_path.empty()) {
    std::cout << "usage: llmos-bench engine --model FILE [options]\n" << opts;
    return vm.count("help") ? 0 : 2;
  }
  if (prompt < 1 || gen < 2 || batch < 1 || batch > 256 || (kv != "f16" && kv != "f32")) {
    std::fprintf(stderr, "llmos-bench engine: need prompt >= 1, gen >= 2, 1 <= batch <= 256, kv f16|f32\n");
    return 2;
  }
  auto file = gguf::GgufFile::open(model_path);
  if (!file.ok()) {
    std::fprintf(stderr, "llmos-bench engine: %s\n", file.status().message().c_str());
    return 1;
  }
  auto kind = driver::parse_device(device);
  if (!kind.ok()) {
    std::fprintf(stderr, "llmos-bench engine: %s\n", kind.status().message().c_str());
    return 2;
  }
  driver::DriverOptions dopts;
  dopts.threads = threads;
  auto drv = driver::make_driver(*kind, dopts);
  if (!drv.ok()) {
    std::fprintf(stderr, "llmos-bench engine: %s\n", drv.status().message().c_str());
    return 1;
  }
  const std::string driver_name = (*drv)->info().name;
  const std::string driver_details = (*drv)->info().details;
  engine::ModelOptions mo;
  mo.max_batch_tokens = std::max(512, prompt);
  mo.max_outputs = std::max(batch, 1);
  auto model = engine::load_model(std::move(*file), std::move(*drv), mo);
  if (!model.ok()) {
    std::fprintf(stderr, "llmos-bench engine: %s\n", model.status().message().c_str());
    return 1;
  }
  engine::Model& m = **model;
  const DType kv_type = kv == "f16" ? DType::kF16 : DType::kF32;
  const int n_threads = threads > 0 ? threads : int(std::thread::hardware_concurrency());

  // The roofline uses host memory bandwidth; on a GPU, llmos-cuda-bench
  // reports the device's.
  const double bw_gbs = driver_name == "cpu" ? cpu::measure_read_bandwidth_gbs(n_threads) : 0.0;
  run(m, 1, std::min(prompt, 16), 4, kv_type);  // warm-up: page in the weights
  const DecodeResult single = run(m, 1, prompt, gen, kv_type);
  const DecodeResult batched = batch > 1 ? run(m, batch, prompt, gen, kv_type) : single;
  // A conversation's next turn: `turn` new tokens after the first turn.
  const int turn = 32;
  const double ttft_cached = followup_ttft_ms(m, prompt, gen, turn, kv_type, true);
  const double ttft_plain = followup_ttft_ms(m, prompt, gen, turn, kv_type, false);
  const double weight_gb = double(m.weight_bytes()) / 1e9;
  // A token reads every weight but only its routed experts (all of a dense model).
  const double active_gb = double(model::active_weight_bytes(m.file(), m.config())) / 1e9;
  const double roofline_tps = bw_gbs / active_gb;

  if (json) {
    nlohmann::json out{{"model", model_path},
                       {"driver", driver_name + ", " + driver_details},
                       {"threads", n_threads},
                       {"weight_bytes", m.weight_bytes()},
                       {"active_weight_bytes_per_token", uint64_t(active_gb * 1e9 + 0.5)},
                       {"prompt_tokens", prompt},
                       {"gen_tokens", gen},
                       {"batch", batch},
                       {"kv_type", kv},
                       {"prefill_tokens_per_s", single.prefill_tps},
                       {"decode_tokens_per_s_batch1", single.decode_tps},
                       {"decode_tokens_per_s_batch", batched.decode_tps},
                       {"read_bandwidth_gb_per_s", bw_gbs},
                       {"roofline_decode_tokens_per_s", roofline_tps},
                       {"roofline_fraction", single.decode_tps / roofline_tps},
                       {"next_turn_new_tokens", turn},
                       {"next_turn_first_token_ms_prefix_cache", ttft_cached},
                       {"next_turn_first_token_ms_no_cache", ttft_plain}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("model            %s (%.1f MB of weights", model_path.c_str(), weight_gb * 1e3);
    if (active_gb < weight_gb) std::printf(", %.1f MB read per token: its routed experts only", active_gb * 1e3);
    std::printf(")\n");
    std::printf("driver           %s, %s\n", driver_name.c_str(), driver_details.c_str());
    std::printf("prefill          %.1f tokens/s (%d-token prompt)\n", single.prefill_tps, prompt);
    std::printf("decode batch 1   %.1f tokens/s\n", single.decode_tps);
    std::printf("decode batch %-3d %.1f tokens/s (all sequences together)\n", batch, batched.decode_tps);
    std::printf("next turn        first token after %.1f ms with the prefix cache, %.1f ms without "
                "(%d + %d prompt tokens, %d new)\n",
                ttft_cached, ttft_plain, prompt, gen, turn);
    if (bw_gbs > 0) {
      std::printf("read bandwidth   %.1f GB/s -> roofline %.1f tokens/s; batch-1 decode reaches %.0f%%\n", bw_gbs,
                  roofline_tps, 100.0 * single.decode_tps / roofline_tps);
    }
  }
  return 0;
}

}  // namespace llmos::bench
