// `llmos`: the command line. Subcommands that run in-process (inspect,
// tokenize, generate --local) live in their own *_cmd.cpp files.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.hpp"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: llmos <command> [options]\n"
      "\n"
      "commands:\n"
      "  inspect MODEL.gguf                 metadata, tensor table, estimated memory\n"
      "  tokenize --model MODEL.gguf TEXT   token ids of TEXT (--json for {\"ids\":[...]})\n"
      "  generate --local --model MODEL.gguf --prompt TEXT\n"
      "                                     generate in this process, streaming the text\n"
      "\n"
      "Run `llmos <command> --help` for a command's options.\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
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
  if (cmd == "generate") return llmos::cli::cmd_generate(argc - 1, argv + 1);
  std::fprintf(stderr, "llmos: unknown command '%s' (try `llmos --help`)\n", argv[1]);
  return 2;
}
