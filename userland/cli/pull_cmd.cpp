// `llmos pull SOURCE [--name NAME[:TAG]] [--sha256 HEX]`: downloads a model
// (http(s):// URL or hf:ORG/REPO/FILE.gguf under $LLMOS_HF_ENDPOINT) into the
// store with a progress bar on a terminal. Ctrl-C stops it, keeping what
// arrived for the next pull of the same source to resume; nothing enters the
// store unless the whole file arrived, matched its SHA-256 and reads as GGUF.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "llmos/common/progress_text.hpp"
#include "llmos/model/model_pull.hpp"
#include "system_context.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

// Set by SIGINT/SIGTERM while a pull runs (a signal handler can reach nothing else).
volatile std::sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

// Draws "pulling NAME [#####.....] 12.0 MiB / 40.0 MiB  8.1 MiB/s" on a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string name) : name_(std::move(name)), tty_(::isatty(STDERR_FILENO)) {}
  void update(uint64_t done, uint64_t total) {
    const auto now = Clock::now();
    if (!started_) started_ = true, start_ = now, start_bytes_ = done;
    last_done_ = done;
    if (!tty_) return;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0.2 ? double(done - start_bytes_) / secs : 0.0;
    constexpr int kWidth = 30;
    const std::string bar = progress_bar(total ? double(done) / double(total) : 0.0, kWidth);
    std::fprintf(stderr, "\r\033[Kpulling %s [%s] %s / %s  %s/s", name_.c_str(), bar.c_str(),
                 format_bytes(done).c_str(), total ? format_bytes(total).c_str() : "?",
                 format_bytes(uint64_t(rate)).c_str());
    std::fflush(stderr);
  }
  void finish() {
    if (tty_ && started_) std::fputs("\n", stderr);
  }
  double rate() const {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    return secs > 0 ? double(last_done_ - start_bytes_) / secs : 0.0;
  }

 private:
  std::string name_;
  bool tty_;
  bool started_ = false;
  Clock::time_point start_;
  uint64_t start_bytes_ = 0, last_done_ = 0;
};

int usage_error(const std::string& message) {
  return report("pull", message + " (try `llmos pull --help`)", 2);
}

}  // namespace

int cmd_pull(int argc, char** argv) {
  std::string source, name_text, sha256, models_dir;
  po::options_description opts(
      "usage: llmos pull SOURCE [--name NAME[:TAG]] [--sha256 HEX] [--models-dir DIR]\n"
      "SOURCE: an http:// or https:// URL of a GGUF file, or hf:ORG/REPO/FILE.gguf\n"
      "(from $LLMOS_HF_ENDPOINT, default https://huggingface.co). An interrupted pull\n"
      "resumes when run again.\noptions");
  opts.add_options()("help,h", "show this help")(
      "name", po::value(&name_text)->value_name("NAME[:TAG]"), "the model's name (default: the file name without .gguf)")(
      "sha256", po::value(&sha256)->value_name("HEX"),
      "the file's expected SHA-256 (default: the server's, when it gives one)")(
      "models-dir", po::value(&models_dir)->value_name("DIR"), "the model store (default: $LLMOS_MODELS, ...)");
  po::options_description hidden;
  hidden.add_options()("source", po::value(&source));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("source", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (source.empty()) return usage_error("a source is required");

  model::PullRequest request;
  request.source = source;
  request.expected_sha256 = sha256;
  if (const char* hf = std::getenv("LLMOS_HF_ENDPOINT"); hf != nullptr && *hf != '\0') request.hf_endpoint = hf;
  if (!name_text.empty()) {
    auto name = model::parse_model_name(name_text);
    if (!name.ok()) return report("pull", name.status(), 2);
    request.name = *name;
  }
  auto resolved = model::resolve_pull_source(source, request.hf_endpoint);
  if (!resolved.ok()) return report("pull", resolved.status(), 2);
  const std::string shown = request.name ? request.name->str() : resolved->default_name.str();

  auto dir = model::resolve_models_dir(vm.count("models-dir") ? std::optional(models_dir) : std::nullopt,
                                       std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"), std::getenv("HOME"));
  if (!dir.ok()) return report("pull", dir.status(), 2);
  auto store = model::ModelStore::open(*dir);
  if (!store.ok()) return report("pull", store.status());

  struct sigaction sa{}, old_int{}, old_term{};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  ProgressBar bar(shown);
  model::DownloadHooks hooks;
  hooks.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
  hooks.cancelled = [] { return g_interrupted != 0; };
  auto pulled = model::pull_model(*store, request, hooks);
  bar.finish();
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (!pulled.ok()) return report("pull", pulled.status(), g_interrupted ? 130 : 1);
  const auto& d = pulled->download;
  std::printf("pulled '%s' (%s, sha256 %s%s) at %s/s%s\n", pulled->manifest.name.str().c_str(),
              format_bytes(d.size).c_str(), pulled->manifest.sha256.c_str(),
              d.server_sha256.empty() && sha256.empty() ? ", not checked: the server gave none" : ", verified",
              format_bytes(uint64_t(bar.rate())).c_str(),
              d.resumed_from ? (", resumed at " + std::to_string(d.resumed_from) + " bytes").c_str() : "");
  return 0;
}

}  // namespace llmos::cli
