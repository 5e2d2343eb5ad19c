// `llmos quantize IN.gguf OUT.gguf --type T [--threads N] [--quiet]`: writes
// IN's model in the quantization mix T (q8_0 ... q4_k_m ... iq4_xs, llama.cpp's
// per-tensor conventions; model/quantize), with a progress bar on stderr and a
// per-type tensor count on stdout. IN must hold F32, F16 or BF16 weights. Exit 1
// for a bad input or a failed write, 2 for bad usage.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>

#include "commands.hpp"
#include "llmos/common/progress_text.hpp"
#include "llmos/quantize/quantize_model.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

constexpr int kExitBadInput = 1;
constexpr int kExitUsage = 2;
constexpr int kBarWidth = 40;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "llmos quantize: %s (see llmos quantize --help)\n", message.c_str());
  return kExitUsage;
}

// Redraws "[#####.....]  45% blk.3.ffn_up.weight" in place when the percentage moves.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(const quantize::QuantizeProgress& p) {
    if (!enabled_ || p.total == 0) return;
    const int pct = int(p.done * 100 / p.total);
    if (pct == last_pct_) return;
    last_pct_ = pct;
    std::fprintf(stderr, "\r[%s] %3d%% %-40.40s", progress_bar(pct / 100.0, kBarWidth).c_str(), pct,
                 std::string(p.tensor).c_str());
    std::fflush(stderr);
  }
  void finish() {
    if (enabled_ && last_pct_ >= 0) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  int last_pct_ = -1;
};

}  // namespace

int cmd_quantize(int argc, char** argv) {
  std::string in, out, type;
  int threads = 0;
  bool quiet = false;
  po::options_description opts(
      "usage: llmos quantize IN.gguf OUT.gguf --type T [--threads N]\n"
      "Writes IN's model (F32, F16 or BF16 weights) quantized in the mix T, with\n"
      "llama.cpp's per-tensor conventions (Q6_K output, more bits for some attn_v and\n"
      "ffn_down in the _M mixes, fallback types for rows that fit no block).\n"
      "options");
  opts.add_options()("help,h", "show this help")(
      "type,t", po::value(&type)->value_name("T"),
      "q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_m, q6_k, iq4_xs")(
      "threads", po::value(&threads)->value_name("N"), "conversion threads (default: all cores)")(
      "quiet,q", po::bool_switch(&quiet), "no progress bar");
  po::options_description hidden;
  hidden.add_options()("in", po::value(&in))("out", po::value(&out));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description positional;
  positional.add("in", 1).add("out", 1);
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
  if (in.empty() || out.empty()) return usage_error("an input and an output file are required");
  if (type.empty()) return usage_error("--type is required");
  if (threads < 0) return usage_error("--threads must not be negative");
  auto mix = quantize::parse_mix(type);
  if (!mix.ok()) return usage_error(mix.status().message());

  ProgressBar bar(!quiet && ::isatty(STDERR_FILENO));
  quantize::QuantizeOptions options{*mix, threads, [&bar](const quantize::QuantizeProgress& p) { bar.update(p); }};
  auto summary = quantize::quantize_model(in, out, options);
  bar.finish();
  if (!summary.ok()) {
    std::fprintf(stderr, "llmos quantize: %s\n", summary.status().message().c_str());
    return kExitBadInput;
  }
  std::map<std::string_view, int> counts;
  for (const auto& t : summary->tensors) ++counts[dtype_name(t.to)];
  std::printf("%s: %s, %llu bytes, tensors:", out.c_str(), std::string(quantize::mix_name(*mix)).c_str(),
              static_cast<unsigned long long>(summary->file_bytes));
  for (const auto& [name, n] : counts) std::printf(" %d %s", n, std::string(name).c_str());
  std::printf("\n");
  return 0;
}

}  // namespace llmos::cli
