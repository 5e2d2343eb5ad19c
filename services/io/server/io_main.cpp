// llmos-io: the I/O service (started by llmosd). Serves clients on io.sock,
// receives the model services' tokens on tokens.sock, and serves the HTTP API
// (--http ADDR:PORT, default 127.0.0.1:8080; --http off: none).
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <iostream>

#include "io_server.hpp"
#include "llmos/common/listen_address.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/ipc/service_main.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string runtime_dir, http = "127.0.0.1:8080", api_keys, models_dir;
  int http_threads = 2;
  po::options_description opts("llmos-io options (started by llmosd)");
  opts.add_options()
      ("help,h", "show this help")
      ("runtime-dir", po::value(&runtime_dir)->required(), "the system's runtime directory")
      ("http", po::value(&http), "the HTTP API's ADDR:PORT (port 0: any free port), or off (default 127.0.0.1:8080)")
      ("api-keys", po::value(&api_keys), "file of bearer keys for the HTTP API (default: no authentication)")
      ("http-threads", po::value(&http_threads), "HTTP I/O threads (default 2)")
      ("models-dir", po::value(&models_dir), "the model store for Ollama's API (default: $LLMOS_MODELS, ...)");
  po::variables_map vm;
  if (auto code = llmos::ipc::parse_service_flags("llmos-io", opts, vm, argc, argv)) return *code;
  llmos::ipc::Logger log("llmos-io");
  llmos::io_service::IoOptions options;
  if (http != "off") {
    auto listen = llmos::parse_listen_address(http);
    if (!listen.ok()) {
      log.error("--http " + listen.status().message());
      return 2;
    }
    llmos::http::HttpServerOptions h;
    h.address = listen->host;
    h.port = listen->port;
    h.io_threads = std::max(1, http_threads);
    auto store_dir = llmos::model::resolve_models_dir(
        models_dir.empty() ? std::nullopt : std::optional(models_dir), std::getenv("LLMOS_MODELS"),
        std::getenv("XDG_DATA_HOME"), std::getenv("HOME"));
    if (store_dir.ok()) h.models_dir = *store_dir;  // none: the Ollama API lists no models
    if (const char* hf = std::getenv("LLMOS_HF_ENDPOINT"); hf && *hf) h.hf_endpoint = hf;  // /api/pull's hf: sources
    if (!api_keys.empty()) {
      auto keys = llmos::http::ApiKeys::load(api_keys);
      if (!keys.ok()) {
        log.error("--api-keys " + keys.status().message());
        return 2;
      }
      h.api_keys = std::move(keys).value();
    }
    options.http = std::move(h);
  }
  boost::asio::io_context io;
  llmos::ipc::Context zmq;
  llmos::io_service::IoServer server(io, zmq, log, runtime_dir, std::move(options));
  if (auto st = server.start(); !st.ok()) {
    log.error(st.to_string());
    return 1;
  }
  llmos::ipc::run_until_terminated(io, [&] {
    server.stop();
    io.stop();
  });
  return 0;
}
