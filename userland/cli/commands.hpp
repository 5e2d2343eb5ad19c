// The `llmos` command line's subcommands. Each takes the arguments after its
// own name (argv[0] is the subcommand name) and returns the process exit code.
// Errors go to stderr as one line naming the input; results go to stdout.
#pragma once

namespace llmos::cli {

int cmd_inspect(int argc, char** argv);   // inspect_cmd.cpp
int cmd_tokenize(int argc, char** argv);  // tokenize_cmd.cpp
int cmd_generate(int argc, char** argv);  // generate_cmd.cpp

}  // namespace llmos::cli
