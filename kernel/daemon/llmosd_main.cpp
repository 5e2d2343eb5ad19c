// llmosd: the llmos kernel. Holds the runtime directory's lock, binds
// kernel.sock, spawns llmos-io and llmos-memory, and one llmos-model per loaded
// model, and serves until `shutdown` or SIGTERM. Usually started by `llmos up`,
// which detaches it and sends its stderr to <runtime dir>/llmosd.log.
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "kernel_server.hpp"
#include "llmos/common/listen_address.hpp"
#include "llmos/ipc/runtime_dir.hpp"
#include "llmos/kernel/model_residency.hpp"
#include "llmos/model/model_store.hpp"

namespace {

namespace po = boost::program_options;

uint64_t physical_memory_bytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : (uint64_t{8} << 30);
}

std::filesystem::path own_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : exe.parent_path();
}

}  // namespace

int main(int argc, char** argv) {
  std::string runtime_dir, bin_dir, http, api_keys, models_dir, keep_alive = "5m";
  size_t max_loaded = 0;
  uint64_t budget = 0, memory_cap = 256ull << 20;
  uint32_t heartbeat_ms = 200, heartbeat_timeout_ms = 5000, max_seqs = 8, max_queued = 256;
  po::options_description opts("llmosd options");
  opts.add_options()
      ("help,h", "show this help")
      ("runtime-dir", po::value(&runtime_dir), "runtime directory (default: $LLMOS_RUNTIME_DIR, "
                                               "$XDG_RUNTIME_DIR/llmos, /tmp/llmos-$UID)")
      ("budget", po::value(&budget), "memory budget for models in bytes (default: physical memory)")
      ("memory-cap", po::value(&memory_cap), "bytes llmos-memory may hold (default 256 MiB)")
      ("bin-dir", po::value(&bin_dir), "where the service programs are (default: beside llmosd)")
      ("http", po::value(&http), "the HTTP API's ADDR:PORT, or off (llmos-io's default: 127.0.0.1:8080)")
      ("api-keys", po::value(&api_keys), "file of HTTP API bearer keys (see docs/http-api.md)")
      ("models-dir", po::value(&models_dir), "the model store requests load models from on demand "
                                             "(default: $LLMOS_MODELS, $XDG_DATA_HOME/llmos/models, ~/.local/share/llmos/models)")
      ("keep-alive", po::value(&keep_alive), "how long an idle model stays loaded: 5m, 30s, 1h, 0 (unload when idle), "
                                             "-1 (never) (default 5m)")
      ("max-loaded", po::value(&max_loaded), "models loaded at once, idle ones evicted first (default 0: as many as the budget holds)")
      ("max-seqs", po::value(&max_seqs), "sequences a model service runs at once (default 8)")
      ("max-queued", po::value(&max_queued), "requests waiting per model before new ones are refused as overloaded (default 256)")
      ("heartbeat-ms", po::value(&heartbeat_ms), "heartbeat interval of the services (default 200)")
      ("heartbeat-timeout-ms", po::value(&heartbeat_timeout_ms), "silence before a service is restarted (default 5000)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "llmosd: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: llmosd [options]\n" << opts;
    return 0;
  }
  if (!http.empty() && http != "off") {
    // Checked here, once: llmos-io would otherwise refuse it at every restart.
    if (auto parsed = llmos::parse_listen_address(http); !parsed.ok()) {
      std::fprintf(stderr, "llmosd: --http %s\n", parsed.status().message().c_str());
      return 2;
    }
  }
  auto keep = llmos::kernel::parse_keep_alive(keep_alive);
  if (!keep.ok()) {
    std::fprintf(stderr, "llmosd: --keep-alive %s\n", keep.status().message().c_str());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  llmos::ipc::Logger log("llmosd");

  llmos::ipc::RuntimeEnvironment env = llmos::ipc::RuntimeEnvironment::from_process();
  if (!runtime_dir.empty()) env.llmos_runtime_dir = runtime_dir;
  auto dir = llmos::ipc::ensure_runtime_dir(env);
  if (!dir.ok()) {
    log.error(dir.status().message());
    return 1;
  }
  auto lock = llmos::ipc::RuntimeDirLock::acquire(*dir);
  if (!lock.ok()) {
    log.error(lock.status().message());
    return 1;
  }
  if (int n = llmos::ipc::remove_stale_kv_arenas(*dir); n > 0) {
    log.warn("removed " + std::to_string(n) + " KV arena(s) left by a previous llmosd");
  }

  llmos::kernel::KernelConfig config;
  config.runtime_dir = *dir;
  config.bin_dir = bin_dir.empty() ? own_dir() : std::filesystem::path(bin_dir);
  config.budget_bytes = budget ? budget : physical_memory_bytes();
  config.memory_cap_bytes = memory_cap;
  config.heartbeat_interval_ms = heartbeat_ms;
  config.heartbeat_timeout_ms = heartbeat_timeout_ms;
  config.max_seqs_per_model = max_seqs;
  config.keep_alive = *keep;
  config.max_loaded = max_loaded;
  auto store_dir = llmos::model::resolve_models_dir(models_dir.empty() ? std::nullopt : std::optional(models_dir),
                                                    std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"),
                                                    std::getenv("HOME"));
  if (store_dir.ok()) {  // llmos-io's Ollama API answers from the same store
    config.models_dir = std::filesystem::absolute(*store_dir).string();
    config.io_args.insert(config.io_args.end(), {"--models-dir", config.models_dir});
  }
  if (!http.empty()) config.io_args.insert(config.io_args.end(), {"--http", http});
  if (!api_keys.empty()) {
    // llmos-io runs with the kernel's working directory; a relative path is made absolute here.
    config.io_args.insert(config.io_args.end(), {"--api-keys", std::filesystem::absolute(api_keys).string()});
  }
  config.supervisor.startup_timeout = std::chrono::seconds(60);
  config.supervisor.heartbeat_timeout = std::chrono::milliseconds(heartbeat_timeout_ms);
  config.supervisor.initial_backoff = std::chrono::milliseconds(100);
  config.supervisor.max_backoff = std::chrono::seconds(5);
  config.supervisor.stop_grace = std::chrono::seconds(3);
  config.supervisor.max_consecutive_failures = 8;
  config.scheduler.max_running_per_model = max_seqs;
  config.scheduler.max_queued_per_model = max_queued;
  // A test starts systems with LLMOS_WATCH_PID=<its pid>, so that a crashed
  // test leaves no system behind (a zombie counts as gone only once reaped).
  if (const char* w = std::getenv("LLMOS_WATCH_PID")) config.watch_pid = pid_t(std::atoi(w));

  boost::asio::io_context io;
  llmos::ipc::Context zmq;
  llmos::kernel::KernelServer server(io, zmq, log, config);
  if (auto st = server.start(); !st.ok()) {
    log.error(st.to_string());
    return 1;
  }
  io.run();
  return 0;
}
