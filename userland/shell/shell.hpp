// The interactive llmos shell (`llmos shell`, or `llmos` alone on a terminal)
// and `llmos chat NAME`. The shell runs the command line's own subcommands
// in-process (handed in as a table, so the shell does not depend on the CLI),
// with history and Tab completion of commands, model names, session names and
// files. Ctrl-C stops a generation, never the shell. Single-threaded.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace llmos::shell {

using Command = std::function<int(int argc, char** argv)>;
using CommandTable = std::map<std::string, Command>;

// The loop; returns the exit code for `llmos shell`.
int run_shell(const CommandTable& commands);

// The conversation `llmos chat` works in unless given --session.
inline constexpr const char* kCurrentSession = "current";

// `llmos chat NAME [--continue] [--session S] [--temperature T] [--max-tokens N] [--seed S]
// [--chat-template-file FILE] [--api-key KEY]`: a conversation: each line
// continues it; /save NAME, /restore NAME, /chats, /sessions, /exit.
int run_chat(int argc, char** argv);

// Splits a command line into words: blanks separate, '...' and "..." quote,
// backslash escapes. invalid quoting sets *error.
std::vector<std::string> split_words(const std::string& line, std::string* error);

// What Tab offers after `before` (the line up to the cursor): commands, the
// loaded models' names (from a running system), the model store's NAME:TAG
// names (load, run, show, rm, cp), session names, files.
std::vector<std::string> complete_line(const CommandTable& commands, const std::string& before);

}  // namespace llmos::shell
