// `llmos-bench pull` and `llmos-bench load`: the model store's figures. pull:
// MB/s of a pull (download, SHA-256 as the bytes arrive, fsync; for a GGUF
// file also the GGUF check and the move into a store) from an HTTP server in
// this process on loopback, or from --url. load: milliseconds from asking the
// kernel to load a model to its being ready, repeated (the first load may read
// the file from disk, the later ones find it in the page cache).
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "bench_commands.hpp"
#include "bench_work_dir.hpp"
#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"
#include "llmos/model/model_pull.hpp"
#include "llmos/model/model_store.hpp"

namespace llmos::bench {
namespace {

namespace po = boost::program_options;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

int fail(const char* cmd, const std::string& m) {
  std::fprintf(stderr, "llmos-bench %s: %s\n", cmd, m.c_str());
  return 1;
}

// Serves one file at /FILE_NAME over HTTP/1.1 on a loopback port, one
// connection at a time, on a thread of its own until destroyed.
class LoopbackFileServer {
 public:
  explicit LoopbackFileServer(std::string path)
      : path_(std::move(path)), acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackFileServer() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);  // unblocks accept()
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + fs::path(path_).filename().string();
  }

 private:
  void serve() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      beast::flat_buffer buffer;
      bhttp::request<bhttp::empty_body> req;
      bhttp::read(socket, buffer, req, ec);
      if (ec) continue;
      bhttp::response<bhttp::file_body> res{bhttp::status::ok, req.version()};
      res.body().open(path_.c_str(), beast::file_mode::scan, ec);
      if (ec || req.target() != "/" + fs::path(path_).filename().string()) {
        bhttp::response<bhttp::string_body> nf{bhttp::status::not_found, req.version()};
        nf.keep_alive(false);
        nf.prepare_payload();
        bhttp::write(socket, nf, ec);
        continue;
      }
      res.keep_alive(false);
      res.prepare_payload();
      bhttp::write(socket, res, ec);
    }
  }

  std::string path_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool is_gguf(const std::string& path) {
  char magic[4] = {};
  std::ifstream(path, std::ios::binary).read(magic, 4);
  return std::string_view(magic, 4) == "GGUF";
}

}  // namespace

int run_pull_bench(int argc, char** argv) {
  std::string file, url, dir;
  int mib = 256, repeats = 3;
  bool json_out = false;
  po::options_description opts("llmos-bench pull options");
  opts.add_options()
      ("help,h", "show this help")
      ("file", po::value(&file), "the file to serve (default: --mib MiB of random bytes)")
      ("mib", po::value(&mib)->default_value(mib), "size of the random file when no --file")
      ("url", po::value(&url), "pull this URL instead of serving a file here")
      ("dir", po::value(&dir), "where the temporary store goes (default: $TMPDIR or /tmp); same disk as a real store")
      ("repeat", po::value(&repeats)->default_value(repeats), "pulls; the best is reported")
      ("json", po::bool_switch(&json_out), "one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << "usage: llmos-bench pull [--file FILE | --mib N | --url URL] [options]\n" << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return fail("pull", e.what());
  }
  if (repeats < 1 || mib < 1) return fail("pull", "--repeat and --mib must be at least 1");
  const BenchWorkDir work_dir(dir, "pull");
  if (!work_dir.ok()) return fail("pull", work_dir.error());
  const std::string& work = work_dir.path();

  if (url.empty() && file.empty()) {  // random bytes: the download and its hash, no GGUF check
    file = work + "/random.bin";
    std::ofstream out(file, std::ios::binary);
    std::mt19937_64 rng(42);
    std::vector<uint64_t> block(1 << 17);
    for (int i = 0; i < mib; ++i) {
      for (auto& w : block) w = rng();
      out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(block.size() * sizeof(uint64_t)));
    }
    if (!out) return fail("pull", "cannot write " + file);
  }
  std::optional<LoopbackFileServer> server;
  if (url.empty()) server.emplace(file);
  const std::string source = url.empty() ? server->url() : url;
  const bool whole_pull = url.empty() ? is_gguf(file) : source.ends_with(".gguf");

  double best_s = 0;
  uint64_t bytes = 0;
  std::string sha;
  for (int i = 0; i < repeats; ++i) {
    auto store = model::ModelStore::open(work + "/store");
    if (!store.ok()) return fail("pull", store.status().to_string());
    const auto t0 = Clock::now();
    if (whole_pull) {
      model::PullRequest request;
      request.source = source;
      request.name = *model::parse_model_name("bench");
      auto pulled = model::pull_model(*store, request, {});
      if (!pulled.ok()) return fail("pull", pulled.status().to_string());
      bytes = pulled->download.size, sha = pulled->download.sha256;
      if (auto st = store->remove(*request.name); !st.ok()) return fail("pull", st.to_string());
    } else {
      auto parsed = model::parse_http_url(source);
      if (!parsed.ok()) return fail("pull", parsed.status().to_string());
      const std::string partial = store->temp_dir() + "/bench.partial";
      auto got = model::download_to_file(*parsed, partial, {});
      if (!got.ok()) return fail("pull", got.status().to_string());
      bytes = got->size, sha = got->sha256;
      fs::remove(partial);
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (i == 0 || s < best_s) best_s = s;
  }
  const double mb_s = double(bytes) / 1e6 / best_s;
  if (json_out) {
    std::cout << json{{"bench", "pull"},
                      {"source", source},
                      {"what", whole_pull ? "pull (download, sha256, fsync, GGUF check, into the store)"
                                          : "download (sha256, fsync)"},
                      {"bytes", bytes},
                      {"sha256", sha},
                      {"repeats", repeats},
                      {"best_seconds", best_s},
                      {"mb_per_s", mb_s}}
                     .dump()
              << "\n";
  } else {
    std::printf("%s of %.1f MB from %s: %.1f MB/s (best of %d, %.3f s)\n", whole_pull ? "pull" : "download",
                double(bytes) / 1e6, source.c_str(), mb_s, repeats, best_s);
  }
  return 0;
}

int run_load_bench(int argc, char** argv) {
  std::string model, runtime, bin_dir;
  int repeats = 3, threads = 0;
  bool json_out = false;
  po::options_description opts("llmos-bench load options");
  opts.add_options()
      ("help,h", "show this help")
      ("model,m", po::value(&model), "a GGUF file or a stored model's NAME[:TAG]")
      ("runtime-dir", po::value(&runtime), "measure the system running there (default: start one)")
      ("bin-dir", po::value(&bin_dir), "where llmosd is (default: beside llmos-bench)")
      ("threads,t", po::value(&threads)->default_value(0), "CPU threads of the loaded model; 0 = all cores")
      ("repeat", po::value(&repeats)->default_value(repeats), "loads (each unloaded after)")
      ("json", po::bool_switch(&json_out), "one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    if (vm.count("help") || model.empty()) {
      std::cout << "usage: llmos-bench load --model FILE|NAME [options]\n" << opts;
      return vm.count("help") ? 0 : 2;
    }
  } catch (const po::error& e) {
    return fail("load", e.what());
  }
  if (repeats < 1) return fail("load", "--repeat must be at least 1");
  std::string path = model;
  if (!fs::exists(path)) {  // a stored model
    auto dir = model::resolve_models_dir(std::nullopt, std::getenv("LLMOS_MODELS"), std::getenv("XDG_DATA_HOME"),
                                         std::getenv("HOME"));
    if (!dir.ok()) return fail("load", dir.status().to_string());
    auto store = model::ModelStore::open(*dir);
    if (!store.ok()) return fail("load", store.status().to_string());
    auto name = model::parse_model_name(model);
    if (!name.ok()) return fail("load", name.status().to_string());
    auto m = store->find(*name);
    if (!m.ok()) return fail("load", model + ": no such file, and " + m.status().message());
    path = store->blob_path(*m);
  }
  auto system = client::BenchSystem::use_or_start(runtime, bin_dir, {"--http", "off"});
  if (!system.ok()) return fail("load", system.status().to_string());
  auto kernel = client::KernelClient::connect(system->dir());
  if (!kernel.ok()) return fail("load", kernel.status().to_string());
  const std::string name = "load-bench";
  json loads = json::array();
  for (int i = 0; i < repeats; ++i) {
    client::LoadOptions o;
    o.path = path;
    o.name = name;
    o.threads = uint32_t(threads);
    const auto t0 = Clock::now();
    auto loaded = kernel->load(o, {});
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!loaded.ok()) return fail("load", loaded.status().to_string());
    loads.push_back(ms);
    if (auto un = kernel->unload(name); !un.ok()) return fail("load", un.status().to_string());
  }
  const uint64_t size = fs::file_size(path);
  if (json_out) {
    std::cout << json{{"bench", "load"}, {"model", model}, {"file", path}, {"bytes", size}, {"load_ms", loads}}.dump()
              << "\n";
  } else {
    std::printf("load of %s (%.1f MB) to ready:", model.c_str(), double(size) / 1e6);
    for (const auto& ms : loads) std::printf(" %.1f ms", ms.get<double>());
    std::printf("  (the first may read the file from disk; later ones find it in the page cache)\n");
  }
  return 0;
}

}  // namespace llmos::bench
