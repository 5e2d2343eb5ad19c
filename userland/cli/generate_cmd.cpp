// `llmos generate --local`: loads a model in this process and streams a
// generation to stdout (or prints one JSON object with --json).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <boost/program_options.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/engine/engine.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/gguf/gguf_file.hpp"
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

}  // namespace

int cmd_generate(int argc, char** argv) {
  bool wants_local = false;
  for (int i = 1; i < argc; ++i) wants_local = wants_local || std::string_view(argv[i]) == "--local";
  if (!wants_local) return cmd_generate_remote(argc, argv);  // through the running system
  std::string model_path, prompt;
  bool local = false, json = false;
  int max_tokens = 128, threads = 0, ctx = 0;
  engine::SamplingParams sp;
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
  if (auto st = engine::validate(sp); !st.ok()) return fail(st.message(), 2);

  auto file = gguf::GgufFile::open(model_path);
  if (!file.ok()) return fail(file.status().message());
  auto tok = tokenizer::tokenizer_from_gguf(**file);
  if (!tok.ok()) return fail(tok.status().message());
  driver::DriverOptions dopts;
  dopts.threads = threads;
  auto drv = driver::make_cpu_driver(dopts);
  if (!drv.ok()) return fail(drv.status().message());
  engine::ModelOptions mopts;
  mopts.max_outputs = 1;
  auto model = engine::load_model(std::move(*file), std::move(*drv), mopts);
  if (!model.ok()) return fail(model.status().message());
  engine::Model& m = **model;
  if (tok->n_tokens() != m.config().n_vocab) {
    return fail(model_path + ": vocabulary has " + std::to_string(tok->n_tokens()) +
                " tokens but token_embd.weight has " + std::to_string(m.config().n_vocab) + " rows");
  }
  engine::EngineOptions eopts;
  eopts.max_seqs = 1;
  eopts.ctx_len = ctx;
  auto eng = engine::Engine::create(m, eopts);
  if (!eng.ok()) return fail(eng.status().message());

  engine::GenerationRequest req;
  req.id = 1;
  req.prompt = tok->encode(prompt, /*add_bos=*/tok->add_bos());
  req.sampling = sp;
  req.max_tokens = max_tokens;
  if (tok->eos_id() >= 0) req.stop_ids.push_back(tok->eos_id());
  const size_t n_prompt = req.prompt.size();
  if (auto st = (*eng)->submit(std::move(req)); !st.ok()) return fail(st.message(), 2);

  std::signal(SIGINT, on_sigint);
  tokenizer::StreamDecoder stream(*tok);
  std::vector<int32_t> ids;
  std::vector<engine::TokenEvent> events;
  std::string text;
  engine::FinishReason reason = engine::FinishReason::kNone;
  bool cancelled = false;
  while ((*eng)->has_work()) {
    if (g_interrupted.load() && !cancelled) {
      (*eng)->cancel(1);
      cancelled = true;
    }
    events.clear();
    (*eng)->step(events);
    for (const auto& ev : events) {
      if (ev.token >= 0) {
        ids.push_back(ev.token);
        std::string chunk = stream.push(ev.token);
        text += chunk;
        if (!json && !chunk.empty()) {
          std::fwrite(chunk.data(), 1, chunk.size(), stdout);
          std::fflush(stdout);
        }
      }
      if (ev.done) reason = ev.reason;
    }
  }
  std::string tail = stream.finish();
  text += tail;
  if (json) {
    nlohmann::json out;
    out["ids"] = ids;
    out["text"] = text;
    out["finish_reason"] = engine::finish_reason_name(reason);
    out["prompt_tokens"] = n_prompt;
    std::cout << out.dump() << "\n";
  } else {
    std::fwrite(tail.data(), 1, tail.size(), stdout);
    std::fputs("\n", stdout);
  }
  return cancelled ? 130 : 0;
}

}  // namespace llmos::cli
