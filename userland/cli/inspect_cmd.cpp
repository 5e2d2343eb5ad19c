// `llmos inspect MODEL.gguf [--json] [--ctx N]`: what a model file holds and what
// loading it would cost. Prints the header, the architecture, the engine family
// that runs it, the hyperparameters, every metadata key (long arrays
// summarized), the tensor table, and the memory estimate the kernel makes
// before a load (model::estimate_model_memory: the weights, mmapped read-only
// and shared between processes, plus an F16 KV cache for the context in whole
// blocks). A bad file: one line on stderr, exit 1.
#include <boost/program_options.hpp>
#include <charconv>
#include <cinttypes>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.hpp"
#include "llmos/common/progress_text.hpp"
#include "llmos/engine/kv_cache.hpp"
#include "llmos/engine/model_family.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_text.hpp"
#include "llmos/model/hyperparameters.hpp"
#include "llmos/model/memory_estimate.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;
using gguf::GgufFile;
using Json = nlohmann::ordered_json;

constexpr int kExitBadFile = 1;
constexpr int kExitUsage = 2;
constexpr size_t kArrayPreview = 8;  // array elements shown per key
// The KV cache is estimated as the engine allocates it by default: f16, in whole blocks.
constexpr DType kKvType = DType::kF16;
constexpr uint32_t kKvBlockSize = uint32_t(engine::kDefaultBlockSize);

// What `inspect` reports of the model, beyond the file itself: its
// hyper-parameters (or why they cannot be read), the engine family that runs
// its architecture, and the memory a load needs (the kernel's estimate).
struct ModelSummary {
  std::string arch;                                  // general.architecture, "" when absent
  Result<model::Hyperparameters> hparams = internal_error("not read");  // the error names the key
  const engine::ModelFamily* family = nullptr;       // nullptr: llmos does not run it
  uint64_t weights_bytes = 0;
  std::optional<uint64_t> context_length;            // --ctx, else the model's
  Result<model::ModelMemoryEstimate> memory = internal_error("not estimated");
};

ModelSummary summarize(const GgufFile& f, std::optional<uint64_t> ctx_override) {
  ModelSummary s;
  s.hparams = model::read_hyperparameters(f);
  if (auto a = f.get_string("general.architecture"); a.ok()) s.arch = std::string(*a);
  s.family = engine::find_model_family(s.arch);
  s.weights_bytes = f.total_tensor_bytes();
  if (!s.hparams.ok()) return s;
  s.context_length = ctx_override ? *ctx_override : uint64_t(s.hparams->ctx_len);
  s.memory = model::estimate_model_memory(f, *s.hparams, *s.context_length, kKvBlockSize, kKvType);
  return s;
}

std::string family_text(const ModelSummary& s) {
  if (s.family != nullptr) return std::string(s.family->name);
  return "none (llmos runs " + engine::supported_architectures() + ")";
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

void print_text(const GgufFile& f, const ModelSummary& s) {
  std::printf("file:          %s\n", f.path().c_str());
  std::printf("gguf version:  %u\n", f.version());
  std::printf("size:          %s\n", format_bytes_exact(f.file_size()).c_str());
  std::printf("alignment:     %u (tensor data starts at offset %" PRIu64 ")\n", f.alignment(),
              f.data_offset());
  std::printf("architecture:  %s\n", s.arch.empty() ? "?" : gguf::escape_text(s.arch).c_str());
  std::printf("family:        %s\n", family_text(s).c_str());
  if (s.hparams.ok()) {
    const model::Hyperparameters& h = *s.hparams;
    std::printf("hyperparameters: context %d, embedding %d, blocks %d, ffn %d, heads %d, kv heads %d, "
                "head dim %d, value head dim %d, vocab %d, rope dim %d, rope base %g, rms eps %g",
                h.ctx_len, h.dim, h.n_layers, h.ffn_dim, h.n_heads, h.n_kv_heads, h.head_dim, h.v_head_dim,
                h.n_vocab, h.rope_dim, double(h.rope_freq_base), double(h.rms_eps));
    if (h.n_experts > 0) {
      std::printf(", experts %d (%d used per token, ffn %d each)", h.n_experts, h.n_experts_used, h.expert_ffn_dim);
    }
    if (h.sliding_window > 0) std::printf(", sliding window %d", h.sliding_window);
    if (h.rope_freq_base_swa > 0.0f) std::printf(", local-layer rope base %g", double(h.rope_freq_base_swa));
    if (f.find_tensor("rope_freqs.weight") != nullptr) std::printf(", rope frequency factors (rope_freqs)");
    std::printf(", %s output\n", h.tied_output ? "tied" : "separate");
  } else {
    std::printf("hyperparameters: unknown (%s)\n", s.hparams.status().message().c_str());
  }

  std::printf("\nestimated memory:\n");
  std::printf("  weights:   %s, mmapped read-only, shared by every process using the file\n",
              format_bytes_exact(s.weights_bytes).c_str());
  if (s.memory.ok()) {
    const model::Hyperparameters& h = *s.hparams;
    std::printf("  kv cache:  %s for a context of %" PRIu64 " tokens: %d layers x %" PRIu64
                " tokens (whole blocks of %u) x %d kv heads x (%d + %d) K and V head dims x 2 bytes (f16)\n",
                format_bytes_exact(s.memory->kv_bytes).c_str(), *s.context_length, h.n_layers, s.memory->kv_tokens,
                kKvBlockSize, h.n_kv_heads, h.head_dim, h.v_head_dim);
    if (s.memory->kv_window_layers > 0) {
      std::printf("             but %d sliding-window layers hold %" PRIu64 " tokens each (window %d for %u sequences)\n",
                  s.memory->kv_window_layers, s.memory->kv_window_tokens, h.sliding_window,
                  model::kDefaultKvSequences);
    }
    std::printf("  total:     %s\n", format_bytes_exact(s.memory->total()).c_str());
  } else if (s.hparams.ok()) {
    std::printf("  kv cache:  unknown (%s)\n", s.memory.status().message().c_str());
  } else {
    std::printf("  kv cache:  unknown (the hyperparameters are)\n");
  }

  std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
  size_t key_width = 0, type_width = 0;
  for (const auto& e : f.metadata()) {
    key_width = std::max(key_width, std::min<size_t>(e.key.size(), 44));
    type_width = std::max(type_width, GgufFile::type_string(e).size());
  }
  for (const auto& e : f.metadata())
    std::printf("  %-*s  %-*s  %s\n", int(key_width), gguf::escape_text(e.key).c_str(),
                int(type_width), GgufFile::type_string(e).c_str(),
                f.format_value(e, kArrayPreview).c_str());

  std::printf("\ntensors: %zu, %s\n", f.tensors().size(), format_bytes_exact(s.weights_bytes).c_str());
  size_t name_width = 4, dims_width = 4;
  for (const auto& t : f.tensors()) {
    name_width = std::max(name_width, t.name.size());
    dims_width = std::max(dims_width, dims_text(t.dims).size());
  }
  std::printf("  %-*s  %-5s  %-*s  %12s  %12s\n", int(name_width), "name", "type", int(dims_width),
              "dims", "bytes", "offset");
  for (const auto& t : f.tensors())
    std::printf("  %-*s  %-5s  %-*s  %12" PRIu64 "  %12" PRIu64 "\n", int(name_width),
                gguf::escape_text(t.name).c_str(), std::string(dtype_name(t.type)).c_str(), int(dims_width),
                dims_text(t.dims).c_str(), t.n_bytes, t.offset);
}

// A float32 as the double with the same shortest decimal form (1e-05, not
// 9.99999974737875e-06), so JSON shows the value that was written.
double float32_for_json(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), f);
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

Json scalar_json(const gguf::MetadataScalar& v, gguf::ValueType type) {
  if (type == gguf::ValueType::kFloat32) return float32_for_json(float(std::get<double>(v)));
  return std::visit([](const auto& x) -> Json {
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string_view>) return std::string(x);
    else return x;
  }, v);
}

template <class T>
Json opt_json(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_same_v<T, float>) return float32_for_json(*v);
  else return *v;
}

Json to_json(const GgufFile& f, const ModelSummary& s) {
  Json j;
  j["file"] = f.path();
  j["version"] = f.version();
  j["size_bytes"] = f.file_size();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  j["architecture"] = s.arch.empty() ? Json(nullptr) : Json(s.arch);
  j["family"] = s.family != nullptr ? Json(std::string(s.family->name)) : Json(nullptr);
  if (s.hparams.ok()) {
    const model::Hyperparameters& h = *s.hparams;
    j["hyperparameters"] = {
        {"context_length", h.ctx_len},     {"embedding_length", h.dim},        {"block_count", h.n_layers},
        {"feed_forward_length", h.ffn_dim}, {"head_count", h.n_heads},          {"head_count_kv", h.n_kv_heads},
        {"head_dim", h.head_dim},           {"value_head_dim", h.v_head_dim},   {"vocab_size", h.n_vocab},
        {"rope_dimension_count", h.rope_dim}, {"rope_freq_base", float32_for_json(h.rope_freq_base)},
        {"rms_norm_eps", float32_for_json(h.rms_eps)}, {"expert_count", h.n_experts},
        {"expert_used_count", h.n_experts_used}, {"expert_feed_forward_length", h.expert_ffn_dim},
        {"sliding_window", h.sliding_window},
        {"rope_freq_base_swa", h.rope_freq_base_swa > 0.0f ? Json(float32_for_json(h.rope_freq_base_swa))
                                                            : Json(nullptr)},
        {"rope_freqs", f.find_tensor("rope_freqs.weight") != nullptr}, {"tied_output", h.tied_output}};
  } else {
    j["hyperparameters"] = nullptr;
    j["hyperparameters_error"] = s.hparams.status().message();
  }
  j["memory"] = {{"weights_bytes", s.weights_bytes},
                 {"context_length", opt_json(s.context_length)},
                 {"kv_cache_type", "f16"},
                 {"kv_block_size", kKvBlockSize},
                 {"kv_cache_tokens", s.memory.ok() ? Json(s.memory->kv_tokens) : Json(nullptr)},
                 {"kv_cache_bytes", s.memory.ok() ? Json(s.memory->kv_bytes) : Json(nullptr)},
                 {"kv_window_layers", s.memory.ok() ? Json(s.memory->kv_window_layers) : Json(nullptr)},
                 {"kv_window_tokens", s.memory.ok() ? Json(s.memory->kv_window_tokens) : Json(nullptr)},
                 {"total_bytes", s.memory.ok() ? Json(s.memory->total()) : Json(nullptr)}};
  Json md = Json::array();
  for (const auto& e : f.metadata()) {
    Json item = {{"key", std::string(e.key)}, {"type", GgufFile::type_string(e)}};
    if (e.type == gguf::ValueType::kArray) {
      item["length"] = e.array_length;
      Json first = Json::array();
      if (auto items = f.get_array_items(e.key, kArrayPreview); items.ok())
        for (const auto& v : *items) first.push_back(scalar_json(v, e.array_type));
      item["first"] = std::move(first);
    } else if (auto v = f.get_scalar(e.key); v.ok()) {
      item["value"] = scalar_json(*v, e.type);
    }
    md.push_back(std::move(item));
  }
  j["metadata"] = std::move(md);
  Json tensors = Json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name}, {"type", std::string(dtype_name(t.type))}, {"dims", t.dims},
                       {"n_elements", t.n_elements}, {"bytes", t.n_bytes}, {"offset", t.offset}});
  j["tensors"] = std::move(tensors);
  return j;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "llmos inspect: %s (see llmos inspect --help)\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  std::string model;
  bool json = false;
  po::options_description opts(
      "usage: llmos inspect MODEL.gguf [--json] [--ctx N]\n"
      "Shows a GGUF model's header, hyperparameters, metadata, tensors and estimated memory.\n"
      "options");
  opts.add_options()("help,h", "show this help")("json", po::bool_switch(&json),
                                                 "machine-readable output (one JSON object)")(
      "ctx", po::value<uint64_t>()->value_name("N"),
      "context length for the KV cache estimate (default: the model's)");
  po::options_description hidden;
  hidden.add_options()("model", po::value(&model));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description positional;
  positional.add("model", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (model.empty()) return usage_error("a model file is required");
  std::optional<uint64_t> ctx;
  if (vm.count("ctx")) {
    ctx = vm["ctx"].as<uint64_t>();
    if (*ctx == 0) return usage_error("--ctx must be positive");
  }

  auto opened = GgufFile::open(model);
  if (!opened.ok()) {
    std::fprintf(stderr, "llmos inspect: %s\n", opened.status().message().c_str());
    return kExitBadFile;
  }
  const GgufFile& f = **opened;
  const ModelSummary summary = summarize(f, ctx);
  if (json) {
    std::cout << to_json(f, summary).dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    print_text(f, summary);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace llmos::cli
