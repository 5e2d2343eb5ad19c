// `llmos generate --local`: opens a model in this process (a LocalModel on an
// EngineHost, as `llmos serve --local` runs it) and streams a generation to
// stdout (or prints one JSON object with --json).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <span>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <boost/program_options.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "llmos/host/engine_host.hpp"
#include "llmos/http/local_model.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted.store(true); }

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "llmos generate: %s\n", message.c_str());
  return code;
}

// Collects one generation's tokens and text on the engine thread, printing
// the text as it comes when `stream` is set.
class Printer final : public host::EngineListener {
 public:
  Printer(const tokenizer::Tokenizer& tok, bool stream) : decoder_(tok), stream_(stream) {}

  void on_events(std::span<const engine::TokenEvent> events) override {
    std::lock_guard lock(mu_);
    for (const auto& ev : events) {
      if (ev.token >= 0) {
        ids_.push_back(ev.token);
        print(decoder_.push(ev.token));
      }
      if (ev.done) {
        print(decoder_.finish());
        reason_ = ev.reason;
        done_ = true;
      }
    }
    cv_.notify_all();
  }
  void on_refused(uint64_t, Status status) override {
    std::lock_guard lock(mu_);
    refusal_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }
  bool wait_done(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  // After wait_done() returned true:
  const std::vector<int32_t>& ids() const { return ids_; }
  const std::string& text() const { return text_; }
  FinishReason reason() const { return reason_; }
  const Status& refusal() const { return refusal_; }

 private:
  void print(const std::string& chunk) {
    text_ += chunk;
    if (stream_ && !chunk.empty()) {
      std::fwrite(chunk.data(), 1, chunk.size(), stdout);
      std::fflush(stdout);
    }
  }

  tokenizer::StreamDecoder decoder_;
  const bool stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int32_t> ids_;
  std::string text_;
  FinishReason reason_ = FinishReason::kNone;
  Status refusal_;
  bool done_ = false;
};

}  // namespace

int cmd_generate(int argc, char** argv) {
  bool wants_local = false;
  for (int i = 1; i < argc; ++i) wants_local = wants_local || std::string_view(argv[i]) == "--local";
  if (!wants_local) return cmd_generate_remote(argc, argv);  // through the running system
  std::string model_path, prompt;
  bool local = false, json = false;
  int max_tokens = 128, threads = 0, ctx = 0;
  SamplingParams sp;
  sp.temperature = 0.8f;
  int64_t seed = -1;
  po::options_description opts("llmos generate --local options");
  opts.add_options()
      ("help,h", "show this help")
      ("local", po::bool_switch(&local), "run the model in this process (no daemon)")
      ("model,m", po::value(&model_path), "GGUF model file")
      ("prompt,p", po::value(&prompt), "prompt text (BOS is prepended as llama.cpp does)")
      ("max-tokens,n", po::value(&max_tokens)->default_value(128), "tokens to generate at most")
      ("temperature", po::value(&sp.temperature)->default_value(0.8f, "0.8"), "0 = greedy")
      ("top-k", po::value(&sp.top_k)->default_value(40), "0 = off")
      ("top-p", po::value(&sp.top_p)->default_value(0.95f, "0.95"), "1 = off")
      ("min-p", po::value(&sp.min_p)->default_value(0.05f, "0.05"), "0 = off")
      ("repeat-penalty", po::value(&sp.repeat_penalty)->default_value(1.0f, "1.0"), "1 = off")
      ("seed", po::value(&seed)->default_value(-1), "random seed; -1 picks one")
      ("ctx", po::value(&ctx)->default_value(0), "context length; 0 = the model's")
      ("threads,t", po::value(&threads)->default_value(0), "CPU threads; 0 = all cores")
      ("json", po::bool_switch(&json), "print one JSON object {\"ids\", \"text\", ...} at the end");
  po::positional_options_description pos;
  pos.add("prompt", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what(), 2);
  }
  if (vm.count("help")) {
    std::cout << "usage: llmos generate --local --model MODEL.gguf --prompt TEXT [options]\n" << opts;
    return 0;
  }
  if (!local) return fail("only --local generation is available in this build (the daemon comes later)", 2);
  if (model_path.empty()) return fail("--model is required", 2);
  if (!vm.count("prompt")) return fail("--prompt is required", 2);
  if (threads < 0) return fail("--threads must be >= 0", 2);
  sp.seed = seed < 0 ? uint64_t(std::random_device{}()) : uint64_t(seed);
  if (auto st = validate_sampling(sp); !st.ok()) return fail(st.message(), 2);

  http::LocalModelOptions lo;
  lo.threads = threads;
  lo.max_seqs = 1;
  lo.ctx = ctx;
  auto local_model = http::open_local_model(model_path, lo);
  if (!local_model.ok()) return fail(local_model.status().message());
  const tokenizer::Tokenizer& tok = local_model->text->tok;

  engine::GenerationRequest req;
  req.id = 1;
  req.prompt = tok.encode(prompt, /*add_bos=*/tok.add_bos());
  req.sampling = sp;
  req.max_tokens = max_tokens;
  if (tok.eos_id() >= 0) req.stop_ids.push_back(tok.eos_id());
  const size_t n_prompt = req.prompt.size();

  Printer printer(tok, !json);
  host::EngineHost engine_host(std::move(local_model->engine), printer);
  engine_host.submit(std::move(req));
  std::signal(SIGINT, on_sigint);
  bool cancelled = false;
  while (!printer.wait_done(std::chrono::milliseconds(50))) {
    if (g_interrupted.load() && !cancelled) {
      engine_host.cancel(1);
      cancelled = true;
    }
  }
  engine_host.stop();
  if (!printer.refusal().ok()) return fail(printer.refusal().message(), 2);
  if (json) {
    nlohmann::json out;
    out["ids"] = printer.ids();
    out["text"] = printer.text();
    out["finish_reason"] = std::string(finish_reason_name(printer.reason()));
    out["prompt_tokens"] = n_prompt;
    std::cout << out.dump() << "\n";
  } else {
    std::fputs("\n", stdout);
  }
  return cancelled ? 130 : 0;
}

}  // namespace llmos::cli
