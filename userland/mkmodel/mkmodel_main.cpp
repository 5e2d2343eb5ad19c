// llmos-mkmodel: writes a seeded random GGUF model (llama, qwen3 or qwen3moe, by preset).
//   llmos-mkmodel --out FILE [--preset tiny|110m|1b|qwen3-0.6b|qwen3moe-small] [--type f32|f16|bf16|q8_0|q4_0|MIX]
//                 [--seed N] [--dim N --layers N --heads N --kv-heads N --ffn N --vocab N --ctx N]
// MIX is a llama.cpp-style quantization mix (q4_k_m, q6_k, iq4_xs, ...; see
// model/quantize): per-tensor types as llama-quantize gives them. q8_0 and q4_0
// stay pure (every matrix in that type). Prints one line per file written. Exit codes: 0 ok, 1 write failed, 2 bad arguments.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "llmos/common/progress_text.hpp"
#include "llmos/modelgen/model_gen.hpp"
#include "llmos/quantize/quant_mix.hpp"

namespace po = boost::program_options;
using namespace llmos;

namespace {

constexpr int kExitWriteFailed = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "llmos-mkmodel: %s (see --help)\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out, preset = "tiny", type = "f32", name;
  uint64_t seed = 1;
  struct Override {
    const char* flag;
    int modelgen::ModelSpec::*field;
    const char* help;
  };
  const Override overrides[] = {
      {"dim", &modelgen::ModelSpec::dim, "embedding length"},
      {"layers", &modelgen::ModelSpec::n_layers, "transformer blocks"},
      {"heads", &modelgen::ModelSpec::n_heads, "attention heads"},
      {"kv-heads", &modelgen::ModelSpec::n_kv_heads, "key/value heads (grouped-query attention)"},
      {"ffn", &modelgen::ModelSpec::ffn_dim, "feed-forward hidden size"},
      {"vocab", &modelgen::ModelSpec::vocab_size, "vocabulary size (>= 259)"},
      {"ctx", &modelgen::ModelSpec::context_length, "context length"},
  };
  po::options_description opts("llmos-mkmodel: write a seeded random llama GGUF model\noptions");
  opts.add_options()("help,h", "show this help")(
      "out,o", po::value(&out)->value_name("FILE"), "output path (required)")(
      "preset", po::value(&preset)->value_name("NAME"), "tiny (default), 110m, 1b, qwen3-0.6b or qwen3moe-small")(
      "type", po::value(&type)->value_name("TYPE"), "weight type: f32 (default), f16, bf16, q8_0, q4_0, or a mix: q4_1, q5_0, q5_1, q2_k, "
      "q3_k_m, q4_k_s, q4_k_m, q5_k_m, q6_k, iq4_xs")(
      "seed", po::value(&seed)->value_name("N"), "random seed (default 1); same seed, same file")(
      "name", po::value(&name)->value_name("TEXT"), "general.name (default llmos-synthetic-PRESET)");
  for (const Override& o : overrides) opts.add_options()(o.flag, po::value<int>()->value_name("N"), o.help);

  po::variables_map vm;
  try {
    const po::positional_options_description no_positionals;  // every argument is a flag
    po::store(po::command_line_parser(argc, argv).options(opts).positional(no_positionals).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (out.empty()) return usage_error("--out FILE is required");

  auto spec = modelgen::preset_spec(preset);
  if (!spec.ok()) return usage_error(spec.status().message());
  if (auto dtype = modelgen::parse_weight_type(type); dtype.ok()) {
    spec->type = *dtype;
  } else if (auto mix = quantize::parse_mix(type); mix.ok()) {
    spec->mix = *mix;
  } else {
    return usage_error("unknown weight type '" + type + "' (f32, f16, bf16, or one of " +
                       std::string(quantize::mix_names()) + ")");
  }
  spec->seed = seed;
  if (!name.empty()) spec->name = name;
  for (const Override& o : overrides)
    if (vm.count(o.flag)) (*spec).*(o.field) = vm[o.flag].as<int>();
  if (Status st = modelgen::validate_spec(*spec); !st.ok()) return usage_error(st.message());

  auto size = modelgen::write_model(*spec, out);
  if (!size.ok()) {
    std::fprintf(stderr, "llmos-mkmodel: %s\n", size.status().message().c_str());
    return kExitWriteFailed;
  }
  const modelgen::ModelSpec& s = *spec;
  std::string experts;
  if (s.n_experts > 0) {
    experts = ", " + std::to_string(s.n_experts) + " experts of ffn " + std::to_string(s.expert_ffn_dim) + " (" +
              std::to_string(s.n_experts_used) + " used)";
  }
  std::printf("wrote %s (%llu bytes, %s): %s dim %d, %d layers, %d heads (%d kv) of %d, ffn %d%s, "
              "vocab %d, ctx %d, %s, seed %llu\n",
              out.c_str(), (unsigned long long)*size, format_bytes(*size).c_str(), s.architecture.c_str(),
              s.dim, s.n_layers, s.n_heads, s.n_kv_heads, s.head_dim(), s.ffn_dim, experts.c_str(), s.vocab_size,
              s.context_length, std::string(s.mix ? quantize::mix_name(*s.mix) : dtype_name(s.type)).c_str(), (unsigned long long)s.seed);
  return 0;
}
