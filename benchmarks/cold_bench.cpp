// `llmos-bench cold`: milliseconds from a request for a stored model that is
// not loaded to its first streamed token: load on demand end to end (the
// kernel inspects the file and starts llmos-model, which maps the weights;
// llmos-io reads the vocabulary; then the prompt and one token), through the
// client socket as `llmos generate` sends it. Measured with the file in the
// page cache and, as root with --drop-caches, after dropping the page cache.
// The model is copied into a temporary store; a system of its own serves it.
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "bench_commands.hpp"
#include "bench_work_dir.hpp"
#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/modelgen/model_gen.hpp"

namespace llmos::bench {
namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kStoredName = "cold-bench";

int fail(const std::string& m) {
  std::fprintf(stderr, "llmos-bench cold: %s\n", m.c_str());
  return 1;
}

// Reads the whole file so that its pages are in the page cache.
Status read_through(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0) {
  }
  return ok_status();
}

// `sync; echo 3 > /proc/sys/vm/drop_caches` (root only).
Status drop_page_cache() {
  ::sync();
  std::ofstream out("/proc/sys/vm/drop_caches");
  out << "3\n";
  out.flush();
  if (!out) return failed("cannot write /proc/sys/vm/drop_caches (run as root)");
  return ok_status();
}

// The model path: a file, a stored NAME[:TAG] in $LLMOS_MODELS' store, or a
// synthetic preset written into `work`.
Result<std::string> model_file(const std::string& model, const std::string& preset, const std::string& type,
                               const std::string& work) {
  if (!preset.empty()) {
    LLMOS_ASSIGN_OR_RETURN(modelgen::ModelSpec spec, modelgen::preset_spec(preset));
    LLMOS_ASSIGN_OR_RETURN(spec.type, modelgen::parse_weight_type(type));
    spec.seed = 1;
    const std::string path = work + "/" + preset + "-" + type + ".gguf";
    LLMOS_RETURN_IF_ERROR(modelgen::write_model(spec, path).status());
    return path;
  }
  if (fs::exists(model)) return model;
  LLMOS_ASSIGN_OR_RETURN(std::string dir, model::resolve_models_dir(std::nullopt, std::getenv("LLMOS_MODELS"),
                                                                    std::getenv("XDG_DATA_HOME"), std::getenv("HOME")));
  LLMOS_ASSIGN_OR_RETURN(model::ModelStore store, model::ModelStore::open(dir));
  LLMOS_ASSIGN_OR_RETURN(model::ModelName name, model::parse_model_name(model));
  auto m = store.find(name);
  if (!m.ok()) return not_found(model + ": no such file, and " + m.status().message());
  return store.blob_path(*m);
}

// One request for the unloaded model: ms to its first token; then unloads it.
Result<double> first_token_ms(client::IoClient& io, client::KernelClient& kernel, const std::string& prompt) {
  client::GenerateOptions o;
  o.model = kStoredName;
  o.prompt = prompt;
  o.max_tokens = 1;
  o.sampling.temperature = 0;
  o.fix_seed(1);
  std::optional<Clock::time_point> first;
  const auto t0 = Clock::now();
  auto r = io.generate(o, [&](std::string_view, std::span<const uint32_t> ids) {
    if (!first && !ids.empty()) first = Clock::now();
  });
  if (!r.ok()) return r.status();
  if (!first) return failed("the request for the model ended without a token");
  const double ms = std::chrono::duration<double, std::milli>(*first - t0).count();
  LLMOS_RETURN_IF_ERROR(kernel.unload(std::string(kStoredName) + ":latest").status());
  return ms;
}

}  // namespace

int run_cold_bench(int argc, char** argv) {
  std::string model, preset, type = "q4_0", dir, bin_dir, prompt = "Once upon a time";
  int repeats = 3;
  bool drop = false, json_out = false;
  po::options_description opts("llmos-bench cold options");
  opts.add_options()
      ("help,h", "show this help")
      ("model,m", po::value(&model), "a GGUF file or a stored model's NAME[:TAG]")
      ("preset", po::value(&preset), "instead of --model: a synthetic model of this llmos-mkmodel preset (1b, 110m, ...)")
      ("type", po::value(&type)->default_value(type), "the preset's weight type (f32, f16, bf16, q8_0, q4_0)")
      ("repeat", po::value(&repeats)->default_value(repeats), "requests of each kind (the model unloaded after each)")
      ("drop-caches", po::bool_switch(&drop), "also time requests after `sync; echo 3 > /proc/sys/vm/drop_caches` (root)")
      ("prompt", po::value(&prompt)->default_value(prompt), "the request's prompt")
      ("dir", po::value(&dir), "where the temporary store goes (default: $TMPDIR or /tmp); the disk the figure is for")
      ("bin-dir", po::value(&bin_dir), "where llmosd is (default: beside llmos-bench)")
      ("json", po::bool_switch(&json_out), "one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    if (vm.count("help") || model.empty() == preset.empty()) {
      std::cout << "usage: llmos-bench cold (--model FILE|NAME | --preset NAME [--type T]) [options]\n" << opts;
      return vm.count("help") ? 0 : 2;
    }
  } catch (const po::error& e) {
    return fail(e.what());
  }
  if (repeats < 1) return fail("--repeat must be at least 1");
  if (drop && ::geteuid() != 0) return fail("--drop-caches needs root (it writes /proc/sys/vm/drop_caches)");
  const BenchWorkDir work_dir(dir, "cold");
  if (!work_dir.ok()) return fail(work_dir.error());
  const std::string& work = work_dir.path();

  auto source = model_file(model, preset, type, work);
  if (!source.ok()) return fail(source.status().to_string());
  auto store = model::ModelStore::open(work + "/store");
  if (!store.ok()) return fail(store.status().to_string());
  auto stored = store->import_file(*source, *model::parse_model_name(kStoredName), *source);
  if (!stored.ok()) return fail(stored.status().to_string());
  if (!preset.empty()) fs::remove(*source);
  const std::string file = store->blob_path(*stored);

  auto system = client::BenchSystem::use_or_start("", bin_dir, {"--http", "off", "--models-dir", store->dir()});
  if (!system.ok()) return fail(system.status().to_string());
  auto io = client::IoClient::connect(system->dir());
  if (!io.ok()) return fail(io.status().to_string());
  auto kernel = client::KernelClient::connect(system->dir());
  if (!kernel.ok()) return fail(kernel.status().to_string());

  json cached = json::array(), dropped = json::array();
  for (int i = 0; i < repeats; ++i) {
    if (Status st = read_through(file); !st.ok()) return fail(st.to_string());
    auto ms = first_token_ms(*io, *kernel, prompt);
    if (!ms.ok()) return fail(ms.status().to_string());
    cached.push_back(*ms);
  }
  for (int i = 0; drop && i < repeats; ++i) {
    if (Status st = drop_page_cache(); !st.ok()) return fail(st.to_string());
    auto ms = first_token_ms(*io, *kernel, prompt);
    if (!ms.ok()) return fail(ms.status().to_string());
    dropped.push_back(*ms);
  }
  const auto best = [](const json& a) {
    double b = a.empty() ? 0 : a[0].get<double>();
    for (const auto& v : a) b = std::min(b, v.get<double>());
    return b;
  };
  const uint64_t size = fs::file_size(file);
  const std::string label = preset.empty() ? model : preset + " " + type;
  if (json_out) {
    json j{{"bench", "cold"},
           {"model", label},
           {"bytes", size},
           {"prompt", prompt},
           {"what", "ms from a request for a stored model that is not loaded to its first streamed token"},
           {"page_cache_ms", cached},
           {"best_page_cache_ms", best(cached)}};
    if (drop) j["dropped_cache_ms"] = dropped, j["best_dropped_cache_ms"] = best(dropped);
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%s (%.1f MB), request to first token with the file in the page cache:", label.c_str(),
                double(size) / 1e6);
    for (const auto& ms : cached) std::printf(" %.1f ms", ms.get<double>());
    if (drop) {
      std::printf("\n  after dropping the page cache:");
      for (const auto& ms : dropped) std::printf(" %.1f ms", ms.get<double>());
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace llmos::bench
