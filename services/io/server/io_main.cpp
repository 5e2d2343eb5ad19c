// llmos-io: the I/O service (started by llmosd). Serves clients on io.sock
// and receives the model services' tokens on tokens.sock.
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "io_server.hpp"
#include "llmos/ipc/service_main.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string runtime_dir;
  po::options_description opts("llmos-io options (started by llmosd)");
  opts.add_options()
      ("help,h", "show this help")
      ("runtime-dir", po::value(&runtime_dir)->required(), "the system's runtime directory");
  po::variables_map vm;
  if (auto code = llmos::ipc::parse_service_flags("llmos-io", opts, vm, argc, argv)) return *code;
  llmos::ipc::Logger log("llmos-io");
  boost::asio::io_context io;
  llmos::ipc::Context zmq;
  llmos::io_service::IoServer server(io, zmq, log, runtime_dir);
  if (auto st = server.start(); !st.ok()) {
    log.error(st.to_string());
    return 1;
  }
  llmos::ipc::run_until_terminated(io, [&] { io.stop(); });
  return 0;
}
