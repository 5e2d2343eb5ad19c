// `llmos run NAME|SOURCE [PROMPT]`: the one command to talk to a model. Starts
// the system when none runs (`llmos up` with its defaults), pulls SOURCE
// (http(s):// or hf:) when it is not in the store yet, loads the stored model
// when it is not loaded, then answers PROMPT (`llmos generate`) or, without
// one, opens a conversation (`llmos chat`). Each step reports like the command
// it stands for.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/model/pull_source.hpp"
#include "shell.hpp"
#include "system_context.hpp"

namespace llmos::cli {
namespace {

// Runs `cmd` with `args` as if typed after `llmos`.
int run_as(int (*cmd)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return cmd(int(args.size()), argv.data());
}

bool is_source(const std::string& text) {
  return text.rfind("hf:", 0) == 0 || text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  if (argc < 2 || argc > 3 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::FILE* out = argc >= 2 ? stdout : stderr;
    std::fputs(
        "usage: llmos run NAME[:TAG]|URL|hf:ORG/REPO/FILE.gguf [PROMPT]\n"
        "Starts the system if needed, pulls a URL or hf: source not in the store yet,\n"
        "loads the model if needed, then answers PROMPT or opens a conversation.\n",
        out);
    return argc >= 2 ? 0 : 2;
  }
  std::string what = argv[1];
  auto dir = model::resolve_models_dir(std::nullopt, std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"),
                                       std::getenv("HOME"));
  if (!dir.ok()) return report("run", dir.status(), 2);
  auto store = model::ModelStore::open(*dir);
  if (!store.ok()) return report("run", store.status());

  // The stored model's name: pulled first when `what` is a source not yet in the store.
  model::ModelName name;
  if (is_source(what)) {
    const char* hf = std::getenv("LLMOS_HF_ENDPOINT");
    auto source = model::resolve_pull_source(what, hf && *hf ? hf : model::kDefaultHfEndpoint);
    if (!source.ok()) return report("run", source.status(), 2);
    name = source->default_name;
    auto stored = store->find(name);
    if (!stored.ok() || stored->source != what) {
      if (int rc = run_as(cmd_pull, {"pull", what}); rc != 0) return rc;
    }
  } else {
    auto parsed = model::parse_model_name(what);
    if (!parsed.ok()) return report("run", parsed.status(), 2);
    name = *parsed;
    if (auto stored = store->find(name); !stored.ok())
      return report("run", stored.status().message() + " (pull it first: llmos pull URL --name " + what + ")");
  }
  // The name the model runs under: always NAME:TAG, as `llmos load` and a
  // request that loads it on demand name it, so all of them share one model.
  const std::string model_name = name.str();

  auto sys = connect_system(false);
  if (!sys.ok() || !client::running_kernel_pid(sys->dir)) {
    if (int rc = run_as(cmd_up, {"up"}); rc != 0) return rc;
    sys = connect_system(true);
    if (!sys.ok()) return report("run", sys.status());
  }
  auto models = sys->kernel->models();
  if (!models.ok()) return report("run", models.status());
  bool loaded = false;
  for (const auto& m : *models) loaded = loaded || (m.name == model_name && m.state == ModelState::kReady);
  if (!loaded) {
    if (int rc = run_as(cmd_load, {"load", model_name}); rc != 0) return rc;
  }
  if (argc == 3) return run_as(cmd_generate_remote, {"generate", model_name, argv[2]});
  return run_as(llmos::shell::run_chat, {"chat", model_name});
}

}  // namespace llmos::cli
