#include "shell.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "line_editor.hpp"
#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"
#include "llmos/model/model_store.hpp"

namespace llmos::shell {
namespace {

void ignore_sigint(int) {}

std::string history_path() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.llmos_history" : std::string();
}

const char* kHelp =
    "commands (as on the command line, without `llmos`):\n"
    "  up [--budget BYTES]        down\n"
    "  load PATH [--name N] [--ctx N] [--threads N] [--device cpu|cuda|auto]\n"
    "  unload NAME                ps [--json]            stats [--json]\n"
    "  generate NAME PROMPT [--max-tokens N] [--temperature T] [--seed S] [--priority P] [--json]\n"
    "  chat NAME [--continue] [--chat-template-file FILE] [--api-key KEY]\n"
    "                             a conversation (/save NAME, /restore NAME, /exit)\n"
    "  session list|save NAME|restore NAME|delete NAME|copy FROM TO\n"
    "  help                       exit (or Ctrl-D)\n"
    "Tab completes commands, model names (loaded and stored), session names and files; Ctrl-C stops a generation.\n";

// Completions of a path prefix: entries of its folder, folders with a '/'.
std::vector<std::string> complete_path(const std::string& prefix) {
  namespace fs = std::filesystem;
  std::string dir = ".", base = prefix, shown;
  auto slash = prefix.rfind('/');
  if (slash != std::string::npos) {
    dir = slash == 0 ? "/" : prefix.substr(0, slash);
    shown = prefix.substr(0, slash + 1);
    base = prefix.substr(slash + 1);
  }
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.compare(0, base.size(), base) != 0 || (base.empty() && name[0] == '.')) continue;
    out.push_back(shown + name + (e.is_directory(ec) ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ShellCompleter {
 public:
  explicit ShellCompleter(const CommandTable& commands) : commands_(commands) {}

  std::vector<std::string> operator()(const std::string& before) {
    std::string error;
    auto words = split_words(before, &error);
    const bool new_word = before.empty() || before.back() == ' ';
    if (new_word) words.emplace_back();
    if (words.empty()) return {};
    const std::string& last = words.back();
    std::vector<std::string> pool;
    if (words.size() == 1) {
      for (const auto& [name, fn] : commands_) pool.push_back(name);
      for (const char* extra : {"chat", "help", "exit"}) pool.emplace_back(extra);
    } else if (words.size() == 2 && (words[0] == "generate" || words[0] == "unload" || words[0] == "chat")) {
      pool = model_names();
    } else if (words[0] == "load" && words.size() == 2) {
      auto out = complete_path(last);
      for (const auto& n : stored_names())
        if (n.compare(0, last.size(), last) == 0) out.push_back(n);
      return out;
    } else if (words.size() == 2 && (words[0] == "run" || words[0] == "show" || words[0] == "rm" ||
                                     words[0] == "cp")) {
      pool = stored_names();
    } else if (words[0] == "session" && words.size() == 2) {
      pool = {"list", "save", "restore", "delete", "copy"};
    } else if (words[0] == "session" && words.size() >= 3 && words[1] != "list") {
      pool = session_names();
    }
    std::vector<std::string> out;
    for (const auto& p : pool) {
      if (p.compare(0, last.size(), last) == 0) out.push_back(p);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  std::vector<std::string> model_names() {
    std::vector<std::string> names;
    auto dir = client::runtime_dir();
    if (!dir.ok() || !client::running_kernel_pid(*dir)) return names;
    auto k = client::KernelClient::connect(*dir);
    if (!k.ok()) return names;
    auto models = k->models(std::chrono::milliseconds(500));
    if (models.ok()) {
      for (const auto& m : *models) names.push_back(m.name);
    }
    return names;
  }
  // The model store's NAME:TAG names (none when the store does not exist yet).
  std::vector<std::string> stored_names() {
    std::vector<std::string> names;
    auto dir = model::resolve_models_dir(std::nullopt, std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"),
                                         std::getenv("HOME"));
    std::error_code ec;
    if (!dir.ok() || !std::filesystem::is_directory(*dir + "/manifests", ec)) return names;
    auto store = model::ModelStore::open(*dir);
    if (!store.ok()) return names;
    if (auto list = store->list(); list.ok())
      for (const auto& m : *list) names.push_back(m.name.str());
    return names;
  }
  std::vector<std::string> session_names() {
    std::vector<std::string> names;
    auto dir = client::runtime_dir();
    if (!dir.ok() || !client::running_kernel_pid(*dir)) return names;
    auto io = client::IoClient::connect(*dir);
    if (!io.ok()) return names;
    auto list = io->sessions(std::chrono::milliseconds(500));
    if (list.ok()) {
      for (const auto& s : *list) names.push_back(s.name);
    }
    return names;
  }
  const CommandTable& commands_;
};

}  // namespace

std::vector<std::string> split_words(const std::string& line, std::string* error) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur += line[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote && error) *error = std::string("unterminated ") + quote + " quote";
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::vector<std::string> complete_line(const CommandTable& commands, const std::string& before) {
  return ShellCompleter(commands)(before);
}

int run_shell(const CommandTable& commands) {
  LineEditor editor(history_path());
  ShellCompleter completer(commands);
  // Ctrl-C outside the line editor (a command running) must not end the shell;
  // `generate` installs its own handler that cancels the request.
  auto previous = std::signal(SIGINT, ignore_sigint);
  const bool tty = ::isatty(STDIN_FILENO);
  if (tty) std::printf("llmos shell: `help` lists the commands; Tab completes; Ctrl-D leaves.\n");
  int last = 0;
  for (;;) {
    bool interrupted = false;
    auto line = editor.read_line("llmos> ", std::ref(completer), &interrupted);
    if (!line) break;
    std::string error;
    auto words = split_words(*line, &error);
    if (!error.empty()) {
      std::fprintf(stderr, "llmos: %s\n", error.c_str());
      continue;
    }
    if (words.empty()) continue;
    editor.add_history(*line);
    const std::string& cmd = words[0];
    if (cmd == "exit" || cmd == "quit") break;
    if (cmd == "help") {
      std::fputs(kHelp, stdout);
      continue;
    }
    if (cmd == "shell") {
      std::fprintf(stderr, "llmos: already in the shell\n");
      continue;
    }
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    if (cmd == "chat") {
      last = run_chat(int(words.size()), argv.data());
      continue;
    }
    auto it = commands.find(cmd);
    if (it == commands.end()) {
      std::fprintf(stderr, "llmos: unknown command '%s' (try `help`)\n", cmd.c_str());
      last = 2;
      continue;
    }
    last = it->second(int(words.size()), argv.data());
    std::fflush(stdout);
  }
  std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
  return tty ? 0 : last;
}

}  // namespace llmos::shell
