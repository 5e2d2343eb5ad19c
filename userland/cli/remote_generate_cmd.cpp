// `llmos generate NAME PROMPT`: generation through a running system (llmos-io
// tokenizes, the model's service generates), streamed to stdout. `--json`
// prints the same object as `generate --local`. Ctrl-C cancels the request.
#include <atomic>
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "llmos/common/progress_text.hpp"
#include "shell.hpp"
#include "system_context.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

std::atomic<bool> g_cancel{false};
void on_sigint(int) { g_cancel.store(true); }

}  // namespace

int cmd_generate_remote(int argc, char** argv) {
  client::GenerateOptions g;
  std::string priority = "interactive";
  int64_t seed = -1;
  bool json = false;
  po::options_description opts("llmos generate options");
  opts.add_options()
      ("help,h", "show this help")
      ("model", po::value(&g.model), "the loaded model's name (see `llmos ps`)")
      ("prompt", po::value(&g.prompt), "prompt text")
      ("max-tokens,n", po::value(&g.max_tokens)->default_value(128), "tokens to generate at most")
      ("temperature", po::value(&g.sampling.temperature)->default_value(0.8f, "0.8"), "0 = greedy")
      ("top-k", po::value(&g.sampling.top_k)->default_value(40), "0 = off")
      ("top-p", po::value(&g.sampling.top_p)->default_value(0.95f, "0.95"), "1 = off")
      ("min-p", po::value(&g.sampling.min_p)->default_value(0.05f, "0.05"), "0 = off")
      ("repeat-penalty", po::value(&g.sampling.repeat_penalty)->default_value(1.0f, "1.0"), "1 = off")
      ("seed", po::value(&seed)->default_value(-1), "random seed; -1 picks one")
      ("priority", po::value(&priority), "interactive (default) or batch")
      ("session", po::value(&g.session), "continue this saved session and save the result back to it")
      ("keep-alive", po::value(&g.keep_alive),
       "how long the model stays loaded once idle, from now on: 5m, 30s, 0 (unload after this), -1 (forever)")
      ("json", po::bool_switch(&json), "print one JSON object {\"ids\", \"text\", ...} at the end");
  po::positional_options_description pos;
  pos.add("model", 1).add("prompt", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return report("generate", std::string(e.what()) + " (try `llmos generate --help`)", 2);
  }
  if (vm.count("help")) {
    std::cout << "usage: llmos generate NAME PROMPT [options]          (through the running system)\n"
                 "       llmos generate --local --model FILE --prompt TEXT [options]   (see --local --help)\n"
              << opts;
    return 0;
  }
  if (g.model.empty() || !vm.count("prompt")) {
    return report("generate", "a model name and a prompt are required (llmos generate NAME PROMPT)", 2);
  }
  if (auto p = parse_priority(priority)) {
    g.priority = *p;
  } else {
    return report("generate", "--priority must be interactive or batch, not '" + priority + "'", 2);
  }
  if (seed >= 0) g.fix_seed(uint64_t(seed));
  if (!g.session.empty()) g.save_session = g.session;

  auto dir = client::runtime_dir();
  if (!dir.ok()) return report("generate", dir.status());
  if (!client::running_kernel_pid(*dir)) {
    return report("generate", "llmos is not running in " + dir->string() +
                                  " (start it with `llmos up`, or use `generate --local`)");
  }
  auto io = client::IoClient::connect(*dir);
  if (!io.ok()) return report("generate", io.status());
  g_cancel.store(false);
  auto previous = std::signal(SIGINT, on_sigint);  // Ctrl-C cancels the request (and not the shell)
  auto r = io->generate(
      g,
      [&](std::string_view text, std::span<const uint32_t>) {
        if (json || text.empty()) return;
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      },
      &g_cancel);
  std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
  if (!r.ok()) {
    if (!json) std::fputs("\n", stdout);
    return report("generate", r.status());
  }
  if (json) {
    nlohmann::json out;
    out["ids"] = r->ids;
    out["text"] = r->text;
    out["finish_reason"] = finish_reason_name(r->finish_reason);
    out["prompt_tokens"] = r->prompt_tokens;
    std::cout << out.dump() << "\n";
  } else {
    std::fputs("\n", stdout);
  }
  return r->finish_reason == FinishReason::kCancelled ? 130 : 0;
}

int cmd_session(int argc, char** argv) {
  const char* usage =
      "usage: llmos session list | save NAME | restore NAME | delete NAME | copy FROM TO\n"
      "Sessions are saved conversations (kept by llmos-memory, across restarts).\n"
      "  save NAME      keep the current conversation (of `llmos chat`) as NAME\n"
      "  restore NAME   make NAME the current conversation (`llmos chat MODEL --continue`)\n"
      "`llmos generate MODEL TEXT --session NAME` continues NAME and saves it back.\n";
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string_view sub = argv[1];
  auto dir = client::runtime_dir();
  if (!dir.ok()) return report("session", dir.status());
  if (!client::running_kernel_pid(*dir)) {
    return report("session", "llmos is not running in " + dir->string() + " (start it with `llmos up`)");
  }
  auto io = client::IoClient::connect(*dir);
  if (!io.ok()) return report("session", io.status());
  if (sub == "list" && argc == 2) {
    auto list = io->sessions();
    if (!list.ok()) return report("session", list.status());
    std::printf("%-24s %-16s %8s %10s\n", "SESSION", "MODEL", "TOKENS", "BYTES");
    for (const auto& s : *list) {
      std::printf("%-24s %-16s %8u %10s\n", s.name.c_str(), s.model.c_str(), s.tokens,
                  format_bytes(s.bytes).c_str());
    }
    return 0;
  }
  if (sub == "delete" && argc == 3) {
    Status st = io->delete_session(argv[2]);
    return st.ok() ? 0 : report("session", st);
  }
  if (sub == "copy" && argc == 4) {
    Status st = io->copy_session(argv[2], argv[3]);
    return st.ok() ? 0 : report("session", st);
  }
  if ((sub == "save" || sub == "restore") && argc == 3) {
    const bool save = sub == "save";
    Status st = save ? io->copy_session(shell::kCurrentSession, argv[2]) : io->copy_session(argv[2], shell::kCurrentSession);
    if (!st.ok()) return report("session", st);
    if (save) {
      std::printf("saved the current conversation as '%s'\n", argv[2]);
    } else {
      std::printf("'%s' is the current conversation (continue it with `llmos chat MODEL --continue`)\n", argv[2]);
    }
    return 0;
  }
  std::fputs(usage, stderr);
  return 2;
}

}  // namespace llmos::cli
