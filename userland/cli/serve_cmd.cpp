// `llmos serve --local`: loads a model in this process (LocalBackend) and
// serves the OpenAI-compatible HTTP API until SIGINT or SIGTERM.
#include "commands.hpp"

#include <pthread.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <iostream>
#include <string>

#include "llmos/common/listen_address.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/http/api_keys.hpp"
#include "llmos/http/http_server.hpp"
#include "llmos/http/local_backend.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "llmos serve: %s\n", message.c_str());
  return code;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  bool local = false;
  std::string model_path, name, listen = "127.0.0.1:8080", keys_path, chat_template_file;
  http::LocalBackendOptions backend_opts;
  http::HttpServerOptions server_opts;
  if (auto dir = model::resolve_models_dir(std::nullopt, std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"),
                                           std::getenv("HOME"));
      dir.ok())
    server_opts.models_dir = *dir;  // Ollama's /api/tags and friends
  if (const char* hf = std::getenv("LLMOS_HF_ENDPOINT"); hf && *hf) server_opts.hf_endpoint = hf;  // /api/pull's hf:
  int ctx = 0;
  size_t max_body = server_opts.max_body_bytes;
  po::options_description opts("llmos serve options");
  opts.add_options()
      ("help,h", "show this help")
      ("local", po::bool_switch(&local), "run the model in this process (no daemon)")
      ("model,m", po::value(&model_path), "GGUF model file")
      ("name", po::value(&name), "model name in the API (default: the file name without .gguf)")
      ("http", po::value(&listen)->default_value(listen), "listen on ADDR:PORT (port 0: any free port)")
      ("threads,t", po::value(&backend_opts.threads)->default_value(0), "CPU threads; 0 = all cores")
      ("ctx", po::value(&ctx)->default_value(0), "context length per sequence; 0 = the model's")
      ("chat-template-file", po::value(&chat_template_file),
       "Jinja chat template to use instead of the model's tokenizer.chat_template")
      ("max-seqs", po::value(&backend_opts.max_seqs)->default_value(16), "sequences generated at once")
      ("max-queued", po::value(&backend_opts.max_queued)->default_value(64),
       "requests waiting beyond --max-seqs before 429")
      ("kv-tokens", po::value(&backend_opts.kv_tokens)->default_value(0),
       "KV cache capacity in tokens over all sequences; 0 = one context")
      ("api-keys", po::value(&keys_path), "file of accepted API keys (one a line, admin:KEY for admin)")
      ("max-body-bytes", po::value(&max_body)->default_value(max_body), "larger request bodies get 413")
      ("max-connections", po::value(&server_opts.max_connections)->default_value(server_opts.max_connections),
       "concurrent connections; more get 503")
      ("io-threads", po::value(&server_opts.io_threads)->default_value(1), "HTTP I/O threads");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what(), 2);
  }
  if (vm.count("help")) {
    std::cout << "usage: llmos serve --local --model MODEL.gguf [--http ADDR:PORT] [options]\n" << opts;
    return 0;
  }
  if (!local) return fail("only --local serving is available in this build (the daemon comes later)", 2);
  if (model_path.empty()) return fail("--model is required", 2);
  auto listen_at = llmos::parse_listen_address(listen);
  if (!listen_at.ok()) return fail("--http " + listen_at.status().message(), 2);
  server_opts.address = listen_at->host;
  server_opts.port = listen_at->port;
  if (backend_opts.threads < 0) return fail("--threads must be >= 0", 2);
  if (ctx < 0) return fail("--ctx must be >= 0", 2);
  if (backend_opts.max_seqs < 1) return fail("--max-seqs must be >= 1", 2);
  if (backend_opts.max_queued < 0) return fail("--max-queued must be >= 0", 2);
  if (server_opts.io_threads < 1) return fail("--io-threads must be >= 1", 2);
  if (server_opts.max_connections < 1) return fail("--max-connections must be >= 1", 2);
  server_opts.max_body_bytes = max_body;
  if (!keys_path.empty()) {
    auto keys = http::ApiKeys::load(keys_path);
    if (!keys.ok()) return fail(keys.status().message());
    server_opts.api_keys = std::move(*keys);
  }

  // Every thread started from here on inherits the blocked signals; this one
  // takes them with sigwait, so no handler runs inside the server's threads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  http::LocalBackend backend(backend_opts);
  http::LoadParams load{model_path, name, ctx};
  load.chat_template_file = chat_template_file;
  if (Status st = backend.load_model_and_wait(load); !st.ok()) {
    return fail(st.message());
  }
  // A template that cannot be rendered is reported once, here; plain
  // completions still work and chat requests answer with this error.
  if (auto models = backend.list_models(); models.ok() && !models->empty()) {
    if (auto info = backend.prompt_info(models->front().name); info.ok() && !info->chat_template_error.empty()) {
      std::cerr << "llmos serve: warning: " << info->chat_template_error << "\n";
    }
  }
  auto server = http::HttpServer::start(backend, std::move(server_opts));
  if (!server.ok()) return fail(server.status().message());
  const auto models = backend.list_models();
  const std::string model_name = models.ok() && !models->empty() ? models->front().name : name;
  const std::string host = (*server)->address().find(':') != std::string::npos ? "[" + (*server)->address() + "]"
                                                                               : (*server)->address();
  std::printf("llmos serve: model '%s' ready; listening on http://%s:%u\n", model_name.c_str(), host.c_str(),
              unsigned((*server)->port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "llmos serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->stop();
  return 0;
}

}  // namespace llmos::cli
