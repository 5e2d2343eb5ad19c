// `llmos up`, `down`, `load`, `unload`, `ps`, `stats`, `session`: the system
// commands, each a one-shot client of a running llmosd (docs/microkernel.md).
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "llmos/common/progress_text.hpp"
#include "llmos/common/listen_address.hpp"
#include "llmos/http/api_keys.hpp"
#include "llmos/http/model_text.hpp"
#include "llmos/model/model_store.hpp"
#include "system_context.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

// Parses `argv` into `vm`; returns an exit code when the command should stop
// (help shown: 0; bad usage: 2), or -1 to go on.
int parse(const char* cmd, int argc, char** argv, const po::options_description& opts,
          const po::positional_options_description& pos, po::variables_map& vm, const char* usage) {
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return report(cmd, std::string(e.what()) + " (try `llmos " + cmd + " --help`)", 2);
  }
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n" << opts;
    return 0;
  }
  return -1;
}

// The file of the stored model `text` names (NAME[:TAG]); errors say it is
// neither a file nor a stored model.
Result<std::string> find_stored_model(const std::string& text, const std::optional<std::string>& models_dir) {
  auto name = model::parse_model_name(text);
  if (!name.ok()) return not_found(text + ": no such file (" + name.status().message() + ")");
  LLMOS_ASSIGN_OR_RETURN(std::string dir, model::resolve_models_dir(models_dir, std::getenv("LLMOS_MODELS"),
                                                                    std::getenv("XDG_DATA_HOME"), std::getenv("HOME")));
  LLMOS_ASSIGN_OR_RETURN(auto store, model::ModelStore::open(dir));
  auto m = store.find(*name);
  if (!m.ok()) return not_found(text + ": no such file, and " + m.status().message());
  return store.blob_path(*m);
}

void progress_bar(const client::LoadProgress& p) {
  if (!::isatty(STDERR_FILENO)) return;
  const int width = 30;
  int filled = p.total ? int(width * p.done / p.total) : 0;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  std::fprintf(stderr, "\r\033[Kloading %s [%s] %s", p.name.c_str(), bar.c_str(), p.phase.c_str());
  std::fflush(stderr);
}

nlohmann::json to_json(const client::ModelInfo& m) {
  return {{"name", m.name}, {"path", m.path}, {"state", model_state_name(m.state)}, {"failure", m.failure},
          {"device", m.device}, {"ctx", m.ctx}, {"threads", m.threads},
          {"weights_bytes", m.weights_bytes}, {"kv_bytes", m.kv_bytes},
          {"memory_bytes", m.weights_bytes + m.kv_bytes}, {"active", m.active}, {"queued", m.queued},
          {"tokens_per_second", m.tokens_per_second}, {"pid", m.service_pid},
          {"last_use_unix_ms", m.last_use_unix_ms}, {"expires_unix_ms", m.expires_unix_ms},
          {"keep_alive_ms", m.keep_alive_ms},
          {"chat_template_file", m.chat_template_file}};
}

nlohmann::json to_json(const client::ServiceInfo& s) {
  return {{"name", s.name}, {"kind", s.kind}, {"pid", s.pid}, {"state", s.state},
          {"uptime_ms", s.uptime_ms}, {"restarts", s.restarts}, {"last_exit", s.last_exit}};
}

std::string uptime(uint64_t ms) {
  uint64_t s = ms / 1000;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  }
  return buf;
}

// "in 4m59s", "busy" (requests in flight), "never", "-" (not resident).
std::string expiry(const client::ModelInfo& m) {
  if (m.state != ModelState::kReady) return "-";
  if (m.keep_alive_ms < 0) return "never";
  if (m.expires_unix_ms == 0) return "busy";
  const auto now = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  const uint64_t left = m.expires_unix_ms > now ? m.expires_unix_ms - now : 0;
  return "in " + uptime(left);
}

// "12s ago"; "-" when unknown.
std::string ago(uint64_t unix_ms) {
  if (unix_ms == 0) return "-";
  const auto now = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  return uptime(now > unix_ms ? now - unix_ms : 0) + " ago";
}

// What `llmos up` can check before starting anything: a well-formed --http
// whose address is free (a busy port would leave llmos-io retrying), and a
// readable keys file.
Status check_http_flags(const std::string& http, const std::string& api_keys) {
  if (http != "off") {
    auto listen = parse_listen_address(http);
    if (!listen.ok()) return invalid_argument("--http " + listen.status().message());
    const ListenAddress& o = *listen;
    if (o.port != 0) {
      namespace net = boost::asio;
      net::io_context io;
      net::ip::tcp::acceptor probe(io);
      boost::system::error_code ec;
      const auto address = net::ip::make_address(o.host, ec);
      if (ec) return invalid_argument("--http " + http + ": '" + o.host + "' is not an IP address");
      const net::ip::tcp::endpoint at(address, o.port);
      probe.open(at.protocol(), ec);
      if (!ec) probe.set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) probe.bind(at, ec);
      if (ec) {
        return failed("--http " + http + ": " + ec.message() +
                      " (another llmos or server listens there?); choose another with --http ADDR:PORT, "
                      "or --http off");
      }
    }
  }
  if (!api_keys.empty()) {
    auto keys = http::ApiKeys::load(api_keys);
    if (!keys.ok()) return keys.status();
  }
  return ok_status();
}

}  // namespace

int cmd_up(int argc, char** argv) {
  std::string budget, http = "127.0.0.1:8080", api_keys, keep_alive;
  uint32_t max_seqs = 0, max_queued = 0, max_loaded = 0;
  po::options_description opts("llmos up options");
  opts.add_options()("help,h", "show this help")(
      "budget", po::value(&budget), "memory for models (weights + KV), e.g. 4G; default: physical memory")(
      "http", po::value(&http), "the OpenAI-compatible HTTP API: ADDR:PORT (port 0: any free port) or off; "
                                "default 127.0.0.1:8080")(
      "api-keys", po::value(&api_keys), "file of HTTP bearer keys, one a line, `admin:KEY` for administrators")(
      "max-seqs", po::value(&max_seqs), "sequences each model runs at once (default 8)")(
      "max-queued", po::value(&max_queued), "requests waiting per model before more are refused (default 256)")(
      "keep-alive", po::value(&keep_alive), "how long an idle model stays loaded: 5m, 30s, 0, -1 = never (default 5m)")(
      "max-loaded", po::value(&max_loaded), "models loaded at once; idle ones are evicted first (default: no limit)");
  po::variables_map vm;
  if (int rc = parse("up", argc, argv, opts, {}, vm,
                     "llmos up [--budget BYTES] [--http ADDR:PORT|off] [--api-keys FILE] [--max-seqs N] "
                     "[--max-queued N] [--keep-alive DURATION] [--max-loaded N]");
      rc >= 0) {
    return rc;
  }
  client::UpOptions up;
  up.llmosd = program_dir() / "llmosd";
  if (!budget.empty()) {
    auto b = client::parse_bytes(budget);
    if (!b.ok()) return report("up", "--budget " + b.status().message(), 2);
    up.budget = *b;
  }
  auto dir = client::runtime_dir();
  if (!dir.ok()) return report("up", dir.status());
  const bool running = client::running_kernel_pid(*dir).has_value();
  if (!running) {
    if (Status st = check_http_flags(http, api_keys); !st.ok()) return report("up", st.message(), 2);
  }
  up.kernel_args = {"--http", http};
  if (max_seqs > 0) up.kernel_args.insert(up.kernel_args.end(), {"--max-seqs", std::to_string(max_seqs)});
  if (max_queued > 0) up.kernel_args.insert(up.kernel_args.end(), {"--max-queued", std::to_string(max_queued)});
  if (!keep_alive.empty()) up.kernel_args.insert(up.kernel_args.end(), {"--keep-alive", keep_alive});
  if (max_loaded > 0) up.kernel_args.insert(up.kernel_args.end(), {"--max-loaded", std::to_string(max_loaded)});
  if (!api_keys.empty()) {
    up.kernel_args.insert(up.kernel_args.end(), {"--api-keys", std::filesystem::absolute(api_keys).string()});
  }
  auto r = client::start_system(*dir, up);
  if (!r.ok()) return report("up", r.status());
  if (r->already_running) {
    std::printf("llmos is already running in %s (llmosd pid %u)\n", dir->c_str(), r->pong.kernel_pid);
  } else {
    std::printf("llmos is up in %s (llmosd pid %u)\n", dir->c_str(), r->pong.kernel_pid);
  }
  if (auto url = client::http_url(*dir)) std::printf("HTTP API: %s/v1 (health: %s/health/ready)\n", url->c_str(), url->c_str());
  return 0;
}

int cmd_down(int argc, char** argv) {
  po::options_description opts("llmos down options");
  opts.add_options()("help,h", "show this help");
  po::variables_map vm;
  if (int rc = parse("down", argc, argv, opts, {}, vm, "llmos down"); rc >= 0) return rc;
  auto dir = client::runtime_dir();
  if (!dir.ok()) return report("down", dir.status());
  auto r = client::stop_system(*dir);
  if (!r.ok()) return report("down", r.status());
  if (r->was_running) {
    std::printf("llmos is down (llmosd pid %u stopped)\n", r->kernel_pid);
  } else {
    std::printf("llmos was not running in %s\n", dir->c_str());
  }
  return 0;
}

int cmd_load(int argc, char** argv) {
  client::LoadOptions lo;
  std::string models_dir;
  po::options_description opts("llmos load options");
  opts.add_options()
      ("help,h", "show this help")
      ("path", po::value(&lo.path), "the GGUF model file, or a model in the store (llmos list)")
      ("name", po::value(&lo.name), "the model's name (default: the file's stem)")
      ("ctx", po::value(&lo.ctx), "context length in tokens (default: the model's)")
      ("threads,t", po::value(&lo.threads), "CPU threads (default: all cores)")
      ("device", po::value(&lo.device)->default_value("auto"), "cpu, cuda, or auto (CUDA when usable, else the CPU)")
      ("models-dir", po::value(&models_dir), "the model store (default: $LLMOS_MODELS, ...)")
      ("chat-template-file", po::value(&lo.chat_template_file),
       "Jinja chat template to use instead of the model's tokenizer.chat_template");
  po::positional_options_description pos;
  pos.add("path", 1);
  po::variables_map vm;
  const char* usage =
      "llmos load PATH|NAME[:TAG] [--name N] [--ctx N] [--threads N] [--device cpu|cuda|auto] [--models-dir DIR] "
      "[--chat-template-file FILE]";
  if (int rc = parse("load", argc, argv, opts, pos, vm, usage); rc >= 0) return rc;
  if (lo.path.empty()) return report("load", std::string("a model file is required (") + usage + ")", 2);
  if (!std::filesystem::exists(lo.path)) {  // not a file: a model in the store?
    auto stored = find_stored_model(lo.path, vm.count("models-dir") ? std::optional(models_dir) : std::nullopt);
    if (!stored.ok()) return report("load", stored.status());
    // The canonical NAME:TAG, the name a request that loads it on demand uses,
    // so `llmos load tiny` and a request for "tiny" share one loaded model.
    if (lo.name.empty()) lo.name = model::parse_model_name(lo.path)->str();
    lo.path = *stored;
  }
  if (lo.device != "cpu" && lo.device != "cuda" && lo.device != "auto") {
    return report("load", "--device must be cpu, cuda or auto, not '" + lo.device + "'", 2);
  }
  // The chat template is parsed here too, once, so that one that cannot be
  // rendered is said at load (llmos-io says it in its log and to each chat
  // request); the model still loads for plain completions. An unreadable
  // file or vocabulary refuses the load.
  std::string template_warning;
  if (!lo.chat_template_file.empty()) {
    auto text = http::load_model_text(lo.path, lo.chat_template_file);
    if (!text.ok()) return report("load", text.status());
    template_warning = (*text)->prompt_info.chat_template_error;
  }
  auto sys = connect_system();
  if (!sys.ok()) return report("load", sys.status());
  auto info = sys->kernel->load(lo, progress_bar);
  if (::isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);
  if (!info.ok()) return report("load", info.status());
  std::printf("loaded '%s' (%s, ctx %u, %s weights + %s KV)\n", info->name.c_str(), info->device.c_str(),
              info->ctx, format_bytes(info->weights_bytes).c_str(),
              format_bytes(info->kv_bytes).c_str());
  if (!template_warning.empty()) {
    std::fprintf(stderr, "llmos load: warning: %s; chat requests answer with this error\n", template_warning.c_str());
  }
  return 0;
}

int cmd_unload(int argc, char** argv) {
  std::string name;
  po::options_description opts("llmos unload options");
  opts.add_options()("help,h", "show this help")("name", po::value(&name), "the model to unload");
  po::positional_options_description pos;
  pos.add("name", 1);
  po::variables_map vm;
  if (int rc = parse("unload", argc, argv, opts, pos, vm, "llmos unload NAME"); rc >= 0) return rc;
  if (name.empty()) return report("unload", "a model name is required (llmos unload NAME)", 2);
  auto sys = connect_system();
  if (!sys.ok()) return report("unload", sys.status());
  auto info = sys->kernel->unload(name);
  if (!info.ok()) return report("unload", info.status());
  std::printf("unloaded '%s'\n", info->name.c_str());
  return 0;
}

int cmd_ps(int argc, char** argv) {
  bool json = false;
  po::options_description opts("llmos ps options");
  opts.add_options()("help,h", "show this help")("json", po::bool_switch(&json), "one JSON object");
  po::variables_map vm;
  if (int rc = parse("ps", argc, argv, opts, {}, vm, "llmos ps [--json]"); rc >= 0) return rc;
  auto sys = connect_system();
  if (!sys.ok()) return report("ps", sys.status());
  auto pong = sys->kernel->ping();
  auto models = sys->kernel->models();
  auto services = models.ok() ? sys->kernel->services() : Result<std::vector<client::ServiceInfo>>(models.status());
  if (!pong.ok() || !models.ok() || !services.ok()) {
    return report("ps", !pong.ok() ? pong.status() : !models.ok() ? models.status() : services.status());
  }
  if (json) {
    nlohmann::json out;
    out["kernel_pid"] = pong->kernel_pid;
    out["runtime_dir"] = sys->dir.string();
    const auto url = client::http_url(sys->dir);
    out["http"] = url ? nlohmann::json(*url) : nlohmann::json(nullptr);
    out["models"] = nlohmann::json::array();
    for (const auto& m : *models) out["models"].push_back(to_json(m));
    out["services"] = nlohmann::json::array();
    for (const auto& s : *services) out["services"].push_back(to_json(s));
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("%-20s %-9s %-6s %10s %6s %6s %8s %10s %10s\n", "MODEL", "STATE", "DEVICE", "MEMORY", "ACTIVE",
              "QUEUED", "TOK/S", "LAST USE", "UNLOADS");
  for (const auto& m : *models) {
    const bool holds = m.state == ModelState::kLoading || m.state == ModelState::kReady || m.state == ModelState::kDraining;
    // A draining model is on its way out: "unloading".
    const std::string state = m.state == ModelState::kDraining ? "unloading" : std::string(model_state_name(m.state));
    std::printf("%-20s %-9s %-6s %10s %6u %6u %8.1f %10s %10s\n", m.name.c_str(), state.c_str(), m.device.c_str(),
                holds ? format_bytes(m.weights_bytes + m.kv_bytes).c_str() : "-", m.active, m.queued,
                double(m.tokens_per_second), ago(m.last_use_unix_ms).c_str(), expiry(m).c_str());
    if (!m.failure.empty()) std::printf("  failed: %s\n", m.failure.c_str());
  }
  if (models->empty()) std::printf("(no models loaded)\n");
  if (auto url = client::http_url(sys->dir)) std::printf("\nHTTP API: %s/v1\n", url->c_str());
  std::printf("\n%-20s %-8s %-11s %9s %8s\n", "SERVICE", "PID", "STATE", "UPTIME", "RESTARTS");
  std::printf("%-20s %-8u %-11s %9s %8s\n", "kernel", pong->kernel_pid, "running", "-", "-");
  for (const auto& s : *services) {
    std::printf("%-20s %-8u %-11s %9s %8u\n", s.name.c_str(), s.pid, s.state.c_str(),
                s.pid ? uptime(s.uptime_ms).c_str() : "-", s.restarts);
  }
  return 0;
}

int cmd_stats(int argc, char** argv) {
  bool json = false;
  po::options_description opts("llmos stats options");
  opts.add_options()("help,h", "show this help")("json", po::bool_switch(&json), "one JSON object");
  po::variables_map vm;
  if (int rc = parse("stats", argc, argv, opts, {}, vm, "llmos stats [--json]"); rc >= 0) return rc;
  auto sys = connect_system();
  if (!sys.ok()) return report("stats", sys.status());
  auto s = sys->kernel->stats();
  if (!s.ok()) return report("stats", s.status());
  nlohmann::json out = {{"uptime_ms", s->uptime_ms},
                        {"memory_budget_bytes", s->budget_bytes},
                        {"memory_reserved_bytes", s->reserved_bytes},
                        {"requests_admitted", s->admitted},
                        {"requests_completed", s->completed},
                        {"requests_cancelled", s->cancelled},
                        {"requests_failed", s->failed},
                        {"requests_rejected", s->rejected},
                        {"prompt_tokens", s->prompt_tokens},
                        {"generated_tokens", s->generated_tokens},
                        {"queued", s->queued},
                        {"running", s->running},
                        {"preemptions", s->preemptions},
                        {"redispatches", s->redispatches},
                        {"service_restarts", s->service_restarts},
                        {"kv_blocks_total", s->kv_blocks_total}};
  for (const auto& info : engine_counter_table()) out[std::string(info.name)] = s->engine[info.counter];
  if (json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("uptime              %s\n", uptime(s->uptime_ms).c_str());
  std::printf("memory              %s reserved of %s\n", format_bytes(s->reserved_bytes).c_str(),
              format_bytes(s->budget_bytes).c_str());
  std::printf("requests            %llu admitted, %llu completed, %llu cancelled, %llu failed, %llu rejected\n",
              static_cast<unsigned long long>(s->admitted), static_cast<unsigned long long>(s->completed),
              static_cast<unsigned long long>(s->cancelled), static_cast<unsigned long long>(s->failed),
              static_cast<unsigned long long>(s->rejected));
  std::printf("now                 %u running, %u queued\n", s->running, s->queued);
  std::printf("tokens              %llu prompt, %llu generated\n",
              static_cast<unsigned long long>(s->prompt_tokens), static_cast<unsigned long long>(s->generated_tokens));
  std::printf("recovery            %llu re-dispatched, %llu service restarts, %llu preemptions\n",
              static_cast<unsigned long long>(s->redispatches), static_cast<unsigned long long>(s->service_restarts),
              static_cast<unsigned long long>(s->preemptions));
  std::printf("engine counters (over every model service):\n");
  for (const auto& info : engine_counter_table()) {
    std::printf("  %-20s %12llu  %s\n", std::string(info.name).c_str(),
                static_cast<unsigned long long>(s->engine[info.counter]), std::string(info.help).c_str());
  }
  return 0;
}

}  // namespace llmos::cli
