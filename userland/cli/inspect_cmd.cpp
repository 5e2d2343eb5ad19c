// `llmos inspect MODEL.gguf [--json] [--ctx N]`: what a model file holds and what
// loading it would cost. Prints the header, the architecture's hyperparameters,
// every metadata key (long arrays summarized), the tensor table, and a memory
// estimate: the weights (mmapped read-only, shared between processes) plus an F16
// KV cache for the context length. A bad file: one line on stderr, exit 1.
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
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_text.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;
using gguf::GgufFile;
using Json = nlohmann::ordered_json;

constexpr int kExitBadFile = 1;
constexpr int kExitUsage = 2;
constexpr size_t kArrayPreview = 8;    // array elements shown per key
constexpr uint64_t kKvElemBytes = 2;   // the KV cache is estimated at F16

// The hyperparameters that `inspect` reports, where the file has them.
struct Hyperparameters {
  std::string arch;
  std::optional<uint64_t> context_length, embedding_length, block_count, feed_forward_length,
      head_count, head_count_kv, head_dim, vocab_size;
  std::optional<float> rope_freq_base, rms_eps;
};

template <class T>
std::optional<T> value_or_none(Result<T> r) {
  return r.ok() ? std::optional<T>(*r) : std::nullopt;
}

Hyperparameters read_hyperparameters(const GgufFile& f) {
  Hyperparameters h;
  if (auto a = f.get_string("general.architecture"); a.ok()) h.arch = std::string(*a);
  const std::string p = h.arch + ".";
  h.context_length = value_or_none(f.get_uint(p + "context_length"));
  h.embedding_length = value_or_none(f.get_uint(p + "embedding_length"));
  h.block_count = value_or_none(f.get_uint(p + "block_count"));
  h.feed_forward_length = value_or_none(f.get_uint(p + "feed_forward_length"));
  h.head_count = value_or_none(f.get_uint(p + "attention.head_count"));
  h.head_count_kv = value_or_none(f.get_uint(p + "attention.head_count_kv"));
  if (!h.head_count_kv) h.head_count_kv = h.head_count;  // no GQA key: one KV head per head
  h.head_dim = value_or_none(f.get_uint(p + "attention.key_length"));
  if (!h.head_dim && h.embedding_length && h.head_count && *h.head_count != 0)
    h.head_dim = *h.embedding_length / *h.head_count;
  h.vocab_size = value_or_none(f.get_uint(p + "vocab_size"));
  if (const gguf::MetadataEntry* t = f.find_metadata("tokenizer.ggml.tokens");
      t != nullptr && t->type == gguf::ValueType::kArray)
    h.vocab_size = t->array_length;
  h.rope_freq_base = value_or_none(f.get_float(p + "rope.freq_base"));
  h.rms_eps = value_or_none(f.get_float(p + "attention.layer_norm_rms_epsilon"));
  return h;
}

struct MemoryEstimate {
  uint64_t weights_bytes = 0;
  std::optional<uint64_t> context_length;
  std::optional<uint64_t> kv_cache_bytes;  // absent when the file lacks a needed key
  std::string kv_formula;                  // "2 (K,V) x 22 layers x 2048 ctx x ..."
};

MemoryEstimate estimate_memory(const GgufFile& f, const Hyperparameters& h,
                               std::optional<uint64_t> ctx_override) {
  MemoryEstimate m;
  m.weights_bytes = f.total_tensor_bytes();
  m.context_length = ctx_override ? ctx_override : h.context_length;
  if (!h.block_count || !m.context_length || !h.head_count_kv || !h.head_dim) return m;
  uint64_t kv = 2 * kKvElemBytes;
  for (uint64_t factor : {*h.block_count, *m.context_length, *h.head_count_kv, *h.head_dim})
    if (__builtin_mul_overflow(kv, factor, &kv)) return m;
  m.kv_cache_bytes = kv;
  m.kv_formula = "2 (K,V) x " + std::to_string(*h.block_count) + " layers x " +
                 std::to_string(*m.context_length) + " ctx x " + std::to_string(*h.head_count_kv) +
                 " kv heads x " + std::to_string(*h.head_dim) + " head dim x 2 bytes (f16)";
  return m;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof(buf), "%" PRIu64 " bytes", n);
  else std::snprintf(buf, sizeof(buf), "%" PRIu64 " bytes (%.1f %s)", n, v, units[u]);
  return buf;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

template <class T>
std::string opt_text(const std::optional<T>& v) {
  if (!v) return "?";
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", double(*v));
    return buf;
  } else {
    return std::to_string(*v);
  }
}

void print_text(const GgufFile& f, const Hyperparameters& h, const MemoryEstimate& m) {
  std::printf("file:          %s\n", f.path().c_str());
  std::printf("gguf version:  %u\n", f.version());
  std::printf("size:          %s\n", human_bytes(f.file_size()).c_str());
  std::printf("alignment:     %u (tensor data starts at offset %" PRIu64 ")\n", f.alignment(),
              f.data_offset());
  std::printf("architecture:  %s\n", h.arch.empty() ? "?" : h.arch.c_str());
  std::printf("hyperparameters: context %s, embedding %s, blocks %s, ffn %s, heads %s, kv heads %s, "
              "head dim %s, vocab %s, rope base %s, rms eps %s\n",
              opt_text(h.context_length).c_str(), opt_text(h.embedding_length).c_str(),
              opt_text(h.block_count).c_str(), opt_text(h.feed_forward_length).c_str(),
              opt_text(h.head_count).c_str(), opt_text(h.head_count_kv).c_str(),
              opt_text(h.head_dim).c_str(), opt_text(h.vocab_size).c_str(),
              opt_text(h.rope_freq_base).c_str(), opt_text(h.rms_eps).c_str());

  std::printf("\nestimated memory:\n");
  std::printf("  weights:   %s, mmapped read-only, shared by every process using the file\n",
              human_bytes(m.weights_bytes).c_str());
  if (m.kv_cache_bytes) {
    std::printf("  kv cache:  %s for a context of %" PRIu64 " tokens: %s\n",
                human_bytes(*m.kv_cache_bytes).c_str(), *m.context_length, m.kv_formula.c_str());
    std::printf("  total:     %s\n", human_bytes(m.weights_bytes + *m.kv_cache_bytes).c_str());
  } else {
    std::printf("  kv cache:  unknown (the file lacks the %s.* keys it needs)\n",
                h.arch.empty() ? "architecture" : h.arch.c_str());
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

  std::printf("\ntensors: %zu, %s\n", f.tensors().size(), human_bytes(m.weights_bytes).c_str());
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

Json to_json(const GgufFile& f, const Hyperparameters& h, const MemoryEstimate& m) {
  Json j;
  j["file"] = f.path();
  j["version"] = f.version();
  j["size_bytes"] = f.file_size();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  j["architecture"] = h.arch.empty() ? Json(nullptr) : Json(h.arch);
  j["hyperparameters"] = {
      {"context_length", opt_json(h.context_length)},   {"embedding_length", opt_json(h.embedding_length)},
      {"block_count", opt_json(h.block_count)},         {"feed_forward_length", opt_json(h.feed_forward_length)},
      {"head_count", opt_json(h.head_count)},           {"head_count_kv", opt_json(h.head_count_kv)},
      {"head_dim", opt_json(h.head_dim)},               {"vocab_size", opt_json(h.vocab_size)},
      {"rope_freq_base", opt_json(h.rope_freq_base)},   {"rms_norm_eps", opt_json(h.rms_eps)}};
  j["memory"] = {{"weights_bytes", m.weights_bytes},
                 {"context_length", opt_json(m.context_length)},
                 {"kv_cache_type", "f16"},
                 {"kv_cache_bytes", opt_json(m.kv_cache_bytes)},
                 {"total_bytes", m.kv_cache_bytes ? Json(m.weights_bytes + *m.kv_cache_bytes)
                                                  : Json(nullptr)}};
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
  const Hyperparameters h = read_hyperparameters(f);
  const MemoryEstimate m = estimate_memory(f, h, ctx);
  if (json) {
    std::cout << to_json(f, h, m).dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    print_text(f, h, m);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace llmos::cli
