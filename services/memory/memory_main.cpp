// llmos-memory: the memory service (started by llmosd). Keeps swapped-out KV
// and saved sessions (also under <runtime dir>/sessions/) within --cap-bytes.
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "llmos/ipc/runtime_dir.hpp"
#include "memory_service.hpp"
#include "llmos/ipc/service_main.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string runtime_dir;
  uint64_t cap = 256ull << 20;
  po::options_description opts("llmos-memory options (started by llmosd)");
  opts.add_options()
      ("help,h", "show this help")
      ("runtime-dir", po::value(&runtime_dir)->required(), "the system's runtime directory")
      ("cap-bytes", po::value(&cap), "bytes of KV snapshots held at most (default 256 MiB)");
  po::variables_map vm;
  if (auto code = llmos::ipc::parse_service_flags("llmos-memory", opts, vm, argc, argv)) return *code;
  llmos::ipc::Logger log("llmos-memory");
  auto endpoint = llmos::ipc::ipc_endpoint(runtime_dir, llmos::ipc::kMemorySocket);
  auto kernel = llmos::ipc::ipc_endpoint(runtime_dir, llmos::ipc::kKernelSocket);
  if (!endpoint.ok() || !kernel.ok()) {
    log.error((endpoint.ok() ? kernel.status() : endpoint.status()).message());
    return 1;
  }
  llmos::memory::KvStore store(cap, std::filesystem::path(runtime_dir) / "sessions");
  boost::asio::io_context io;
  llmos::ipc::Context zmq;
  llmos::memory::MemoryService svc(io, zmq, log, store);
  if (auto st = svc.start(*endpoint, *kernel); !st.ok()) {
    log.error(st.to_string());
    return 1;
  }
  llmos::ipc::run_until_terminated(io, [&] { io.stop(); });
  return 0;
}
