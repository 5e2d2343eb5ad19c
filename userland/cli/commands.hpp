// The `llmos` command line's subcommands. Each takes the arguments after its
// own name (argv[0] is the subcommand name) and returns the process exit code.
// Errors go to stderr as one line naming the input; results go to stdout.
#pragma once

namespace llmos::cli {

int cmd_inspect(int argc, char** argv);   // inspect_cmd.cpp
int cmd_tokenize(int argc, char** argv);  // tokenize_cmd.cpp
int cmd_quantize(int argc, char** argv);  // quantize_cmd.cpp
int cmd_generate(int argc, char** argv);  // generate_cmd.cpp: --local, else the next
int cmd_generate_remote(int argc, char** argv);  // remote_generate_cmd.cpp: through llmos-io
int cmd_session(int argc, char** argv);          // remote_generate_cmd.cpp
// system_cmds.cpp: a running system (llmosd and its services)
int cmd_up(int argc, char** argv);
int cmd_down(int argc, char** argv);
int cmd_load(int argc, char** argv);
int cmd_unload(int argc, char** argv);
int cmd_ps(int argc, char** argv);
int cmd_stats(int argc, char** argv);
int cmd_serve(int argc, char** argv);  // serve_cmd.cpp: the HTTP API over an in-process engine
// store_cmds.cpp: the model store (no running system needed)
int cmd_list(int argc, char** argv);
int cmd_show(int argc, char** argv);
int cmd_rm(int argc, char** argv);
int cmd_cp(int argc, char** argv);
int cmd_import(int argc, char** argv);
int cmd_pull(int argc, char** argv);  // pull_cmd.cpp
int cmd_run(int argc, char** argv);   // run_cmd.cpp: up, pull, load as needed, then generate or chat

}  // namespace llmos::cli
