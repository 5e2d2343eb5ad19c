#include "llmos/ipc/service_main.hpp"

#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <iostream>

namespace llmos::ipc {

namespace po = boost::program_options;

std::optional<int> parse_service_flags(const char* program, const po::options_description& opts,
                                       po::variables_map& vm, int argc, char** argv) {
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return std::nullopt;
}

void run_until_terminated(boost::asio::io_context& io, const std::function<void()>& on_terminate) {
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) on_terminate();
  });
  io.run();
}

}  // namespace llmos::ipc
