// `llmos`: the command line. Subcommands that run in-process (inspect,
// tokenize, generate --local) live in their own *_cmd.cpp files.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.hpp"
#include "shell.hpp"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: llmos <command> [options]\n"
      "\n"
      "commands:\n"
      "  inspect MODEL.gguf                 metadata, tensor table, estimated memory\n"
      "  tokenize --model MODEL.gguf TEXT   token ids of TEXT (--json for {\"ids\":[...]})\n"
      "  quantize IN.gguf OUT.gguf --type T write IN quantized (q4_k_m, q8_0, ...; --help for all)\n"
      "  generate --local --model MODEL.gguf --prompt TEXT\n"
      "                                     generate in this process, streaming the text\n"
      "\n"
      "  up [--budget BYTES] [--http ADDR:PORT|off] [--api-keys FILE] [--max-seqs N] [--max-queued N]\n"
      "                                     start the system (llmosd and its services; the\n"
      "                                     OpenAI-compatible HTTP API on 127.0.0.1:8080)\n"
      "  down                               stop it, leaving no process behind\n"
      "  load PATH|NAME[:TAG] [--name N] [--ctx N] [--threads N] [--device cpu|cuda|auto]\n"
      "       [--chat-template-file FILE]\n"
      "                                     a model file, or a model in the store\n"
      "  unload NAME                        drain and unload a model\n"
      "  ps [--json]                        models and services\n"
      "  generate NAME PROMPT [--max-tokens N] [--temperature T] [--seed S]\n"
      "           [--priority interactive|batch] [--session S] [--json]\n"
      "                                     generate through the system, streaming\n"
      "  stats [--json]                     counters of the running system\n"
      "  session list|save NAME|restore NAME|delete NAME|copy FROM TO\n"
      "                                     saved conversations\n"
      "  chat NAME [--continue] [--session S] [--chat-template-file FILE] [--api-key KEY]\n"
      "                                     a conversation with a model\n"
      "  shell                              the interactive shell (also `llmos` alone on a terminal)\n"
      "\n"
      "  list [--json]                      models in the store ($LLMOS_MODELS or --models-dir)\n"
      "  show NAME[:TAG] [--json]           a stored model's manifest\n"
      "  import FILE.gguf [--name NAME[:TAG]]\n"
      "                                     copy a model file into the store\n"
      "  run NAME[:TAG]|URL|hf:... [PROMPT] start, pull and load as needed, then answer or chat\n"
      "  pull URL|hf:ORG/REPO/FILE.gguf [--name NAME[:TAG]] [--sha256 HEX]\n"
      "                                     download a model into the store (resumable)\n"
      "  cp SRC DST                         another name for a stored model\n"
      "  rm NAME[:TAG]                      remove a stored model\n"
      "\n"
      "  serve --local --model MODEL.gguf [--http ADDR:PORT] [--chat-template-file FILE]\n"
      "                                     the OpenAI-compatible HTTP API, engine in this process\n"
      "\n"
      "Run `llmos <command> --help` for a command's options.\n",
      out);
}

}  // namespace

llmos::shell::CommandTable command_table() {
  using namespace llmos::cli;
  return {{"inspect", cmd_inspect}, {"tokenize", cmd_tokenize}, {"generate", cmd_generate},
          {"up", cmd_up},           {"down", cmd_down},         {"load", cmd_load},
          {"unload", cmd_unload},   {"ps", cmd_ps},             {"stats", cmd_stats},
          {"session", cmd_session}, {"list", cmd_list},     {"show", cmd_show},
          {"rm", cmd_rm},           {"cp", cmd_cp},             {"import", cmd_import},
          {"pull", cmd_pull}};
}

int main(int argc, char** argv) {
  if (argc < 2) {
    if (::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO)) return llmos::shell::run_shell(command_table());
    usage(stderr);
    return 2;
  }
  const std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (cmd == "inspect") return llmos::cli::cmd_inspect(argc - 1, argv + 1);
  if (cmd == "tokenize") return llmos::cli::cmd_tokenize(argc - 1, argv + 1);
  if (cmd == "quantize") return llmos::cli::cmd_quantize(argc - 1, argv + 1);
  if (cmd == "generate") return llmos::cli::cmd_generate(argc - 1, argv + 1);
  if (cmd == "up") return llmos::cli::cmd_up(argc - 1, argv + 1);
  if (cmd == "down") return llmos::cli::cmd_down(argc - 1, argv + 1);
  if (cmd == "load") return llmos::cli::cmd_load(argc - 1, argv + 1);
  if (cmd == "unload") return llmos::cli::cmd_unload(argc - 1, argv + 1);
  if (cmd == "ps") return llmos::cli::cmd_ps(argc - 1, argv + 1);
  if (cmd == "stats") return llmos::cli::cmd_stats(argc - 1, argv + 1);
  if (cmd == "serve") return llmos::cli::cmd_serve(argc - 1, argv + 1);
  if (cmd == "list") return llmos::cli::cmd_list(argc - 1, argv + 1);
  if (cmd == "show") return llmos::cli::cmd_show(argc - 1, argv + 1);
  if (cmd == "rm") return llmos::cli::cmd_rm(argc - 1, argv + 1);
  if (cmd == "cp") return llmos::cli::cmd_cp(argc - 1, argv + 1);
  if (cmd == "run") return llmos::cli::cmd_run(argc - 1, argv + 1);
  if (cmd == "pull") return llmos::cli::cmd_pull(argc - 1, argv + 1);
  if (cmd == "import") return llmos::cli::cmd_import(argc - 1, argv + 1);
  if (cmd == "session") return llmos::cli::cmd_session(argc - 1, argv + 1);
  if (cmd == "chat") return llmos::shell::run_chat(argc - 1, argv + 1);
  if (cmd == "shell") return llmos::shell::run_shell(command_table());
  std::fprintf(stderr, "llmos: unknown command '%s' (try `llmos --help`)\n", argv[1]);
  return 2;
}
