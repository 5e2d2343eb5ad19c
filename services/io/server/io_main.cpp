// llmos-io: the I/O service (started by llmosd). Serves clients on io.sock
// and receives the model services' tokens on tokens.sock.
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "io_server.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string runtime_dir;
  po::options_description opts("llmos-io options (started by llmosd)");
  opts.add_options()
      ("help,h", "show this help")
      ("runtime-dir", po::value(&runtime_dir)->required(), "the system's runtime directory");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "llmos-io: %s\n", e.what());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  llmos::ipc::Logger log("llmos-io");
  boost::asio::io_context io;
  llmos::ipc::Context zmq;
  llmos::io_service::IoServer server(io, zmq, log, runtime_dir);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) io.stop();
  });
  if (auto st = server.start(); !st.ok()) {
    log.error(st.to_string());
    return 1;
  }
  io.run();
  return 0;
}
