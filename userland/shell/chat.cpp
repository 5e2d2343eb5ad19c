// `llmos chat NAME`: a conversation with a loaded model. With the system's
// HTTP API up, each line is a user message: the whole conversation goes as
// messages to /v1/chat/completions, where llmos-io renders the model's chat
// template (or the one it was loaded with); with --chat-template-file the
// chat renders that file itself and sends the prompt's token ids to
// /v1/completions (ChatConversation). /save and /restore keep such a
// conversation as its messages and template (ChatSaves). With
// --session/--continue (or no HTTP API) each line continues a raw-text
// conversation that lives in the memory service as a session (its tokens),
// so it can be saved under a name and restored later.
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "chat_conversation.hpp"
#include "chat_http.hpp"
#include "chat_saves.hpp"
#include "line_editor.hpp"
#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"
#include "shell.hpp"

namespace llmos::shell {
namespace {

namespace po = boost::program_options;

std::atomic<bool> g_chat_cancel{false};
void on_sigint(int) { g_chat_cancel.store(true); }

const char* kTemplateHelp =
    "  /save NAME      keep this conversation as chat NAME: its messages, and the\n"
    "                  --chat-template-file's name and text (none: the model's own\n"
    "                  template), in the runtime directory's chats/ folder\n"
    "  /restore NAME   continue chat NAME instead: its messages, rendered with the\n"
    "                  template it was saved with\n"
    "  /chats          list saved chats         /sessions   list raw-text sessions\n"
    "  /exit           leave (or Ctrl-D); Ctrl-C stops a reply\n";
const char* kRawHelp =
    "  /save NAME      keep the conversation so far (its tokens) as session NAME\n"
    "  /restore NAME   continue session NAME instead\n"
    "  /sessions       list saved sessions      /chats      list saved chats\n"
    "  /exit           leave (or Ctrl-D); Ctrl-C stops a reply\n";

void print_text(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int run_chat(int argc, char** argv) {
  client::GenerateOptions g;
  int64_t seed = -1;
  std::string session, template_file, api_key;
  bool resume = false;
  po::options_description opts("llmos chat options");
  opts.add_options()
      ("help,h", "show this help")
      ("model", po::value(&g.model), "the loaded model's name")
      ("max-tokens,n", po::value(&g.max_tokens)->default_value(128), "tokens per reply at most")
      ("temperature", po::value(&g.sampling.temperature)->default_value(0.8f, "0.8"), "0 = greedy")
      ("seed", po::value(&seed)->default_value(-1), "random seed; -1 picks one per reply")
      ("continue", po::bool_switch(&resume), "continue the current raw-text session instead of starting a conversation")
      ("session", po::value(&session), "continue (and keep saving to) this saved raw-text session")
      ("chat-template-file", po::value(&template_file),
       "Jinja chat template to render the conversation with instead of the model's (rendered here, "
       "with the model's vocabulary; needs the HTTP API)")
      ("api-key", po::value(&api_key),
       "key for a system started with --api-keys (default: $LLMOS_API_KEY)");
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "llmos chat: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: llmos chat NAME [options]\n"
              << opts << "in the chat (messages through the chat template):\n"
              << kTemplateHelp << "in a raw-text chat (--session, --continue, or no HTTP API):\n"
              << kRawHelp;
    return 0;
  }
  if (g.model.empty()) {
    std::fprintf(stderr, "llmos chat: a model name is required (llmos chat NAME)\n");
    return 2;
  }
  if (!template_file.empty() && (resume || !session.empty())) {
    std::fprintf(stderr, "llmos chat: --chat-template-file renders messages; --session and --continue are raw text\n");
    return 2;
  }
  if (api_key.empty()) {
    if (const char* env = std::getenv("LLMOS_API_KEY")) api_key = env;
  }
  if (seed >= 0) g.fix_seed(uint64_t(seed));
  auto dir = client::runtime_dir();
  if (!dir.ok() || !client::running_kernel_pid(*dir)) {
    std::fprintf(stderr, "llmos chat: llmos is not running (start it with `llmos up`)\n");
    return 1;
  }
  auto io = client::IoClient::connect(*dir);
  if (!io.ok()) {
    std::fprintf(stderr, "llmos chat: %s\n", io.status().message().c_str());
    return 1;
  }
  // Messages through the chat template, unless a raw-text session was asked
  // for (or the system serves no HTTP API).
  const std::optional<std::string> url = session.empty() && !resume ? client::http_url(*dir) : std::nullopt;
  if (!url && !template_file.empty()) {
    std::fprintf(stderr, "llmos chat: --chat-template-file needs the system's HTTP API (llmos up --http ADDR:PORT)\n");
    return 1;
  }
  std::optional<ChatConversation> conversation;
  if (url) {
    ChatTurnOptions turn;
    turn.model = g.model;
    turn.max_tokens = int(g.max_tokens);
    turn.temperature = g.sampling.temperature;
    turn.seed = seed;
    turn.api_key = api_key;
    // A missing or wrong key, or a template that cannot be rendered, is said
    // now, before the chat starts.
    Status st = check_api_key(*url, turn);
    conversation.emplace(*dir, *url, turn);
    if (st.ok() && !template_file.empty()) st = conversation->use_template_file(template_file);
    if (!st.ok()) {
      std::fprintf(stderr, "llmos chat: %s\n", st.message().c_str());
      return 1;
    }
  }
  // Without --session the conversation is the session "current", which
  // `llmos session save NAME` keeps and `llmos session restore NAME` replaces.
  const std::string work = session.empty() ? std::string(kCurrentSession) : session;
  if (!url && session.empty() && !resume) (void)io->delete_session(work);  // a new conversation
  g.session = g.save_session = work;
  LineEditor editor;
  const bool tty = ::isatty(STDIN_FILENO);
  if (tty) {
    const std::string how = !url                    ? std::string(" (raw text, no chat template)")
                            : template_file.empty() ? std::string(" in its chat template")
                                                    : " in the chat template of " + template_file;
    std::printf("chatting with '%s'%s (/help for commands)\n", g.model.c_str(), how.c_str());
  }
  int rc = 0;
  for (;;) {
    auto line = editor.read_line("you> ");
    if (!line) break;
    if (line->empty()) continue;
    editor.add_history(*line);
    if ((*line)[0] == '/') {
      std::string error;
      auto w = split_words(*line, &error);
      Status st;
      if (w[0] == "/exit" || w[0] == "/quit") break;
      if (w[0] == "/help") {
        std::fputs(conversation ? kTemplateHelp : kRawHelp, stdout);
      } else if (w[0] == "/save" && w.size() == 2 && conversation) {
        st = conversation->save(w[1]);
        if (st.ok()) std::printf("saved as chat '%s' (%zu messages)\n", w[1].c_str(), conversation->messages());
      } else if (w[0] == "/restore" && w.size() == 2 && conversation) {
        auto said = conversation->restore(w[1]);
        if (said.ok()) std::printf("%s\n", said->c_str());
        st = said.status();
      } else if (w[0] == "/save" && w.size() == 2) {
        st = io->copy_session(work, w[1]);
        if (st.ok()) std::printf("saved as session '%s'\n", w[1].c_str());
      } else if (w[0] == "/restore" && w.size() == 2) {
        st = io->copy_session(w[1], work);
        if (st.ok()) std::printf("continuing session '%s'\n", w[1].c_str());
      } else if (w[0] == "/sessions") {
        auto list = io->sessions();
        if (list.ok()) {
          for (const auto& s : *list) std::printf("  %-24s %-16s %u tokens\n", s.name.c_str(), s.model.c_str(), s.tokens);
        }
        st = list.status();
      } else if (w[0] == "/chats") {
        for (const auto& name : list_chats(*dir)) std::printf("  %s\n", name.c_str());
      } else {
        std::fprintf(stderr, "unknown chat command '%s' (/help)\n", w[0].c_str());
      }
      if (!st.ok()) std::fprintf(stderr, "llmos chat: %s\n", st.message().c_str());
      continue;
    }
    g_chat_cancel.store(false);
    auto previous = std::signal(SIGINT, on_sigint);
    if (conversation) {
      auto reply = conversation->turn(*line, print_text, &g_chat_cancel);
      std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
      std::fputs("\n", stdout);
      if (!reply.ok()) {
        std::fprintf(stderr, "llmos chat: %s\n", reply.status().message().c_str());
        rc = 1;
      }
      continue;
    }
    g.prompt = *line;
    auto r = io->generate(
        g, [](std::string_view text, std::span<const uint32_t>) { print_text(text); }, &g_chat_cancel);
    std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
    std::fputs("\n", stdout);
    if (!r.ok()) {
      std::fprintf(stderr, "llmos chat: %s\n", r.status().message().c_str());
      rc = 1;
    }
  }
  return tty ? 0 : rc;
}

}  // namespace llmos::shell
