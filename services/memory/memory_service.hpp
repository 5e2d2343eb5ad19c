// MemoryService: llmos-memory's sockets and message handling. Binds
// memory.sock (ROUTER) for model services and llmos-io, registers with the
// kernel through a KernelLink, and keeps KV snapshots in a KvStore.
// Runs on the thread that runs its io_context.
#pragma once
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "kv_store.hpp"
#include "llmos/ipc/kernel_link.hpp"
#include "llmos/ipc/loop_socket.hpp"

namespace llmos::memory {

class MemoryService {
 public:
  MemoryService(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log, KvStore& store);
  // Binds `endpoint` and registers with the kernel at `kernel_endpoint`.
  Status start(const std::string& endpoint, const std::string& kernel_endpoint);

 private:
  void on_message(ipc::DecodedMessage&& m);
  void reply_snapshot(const ipc::DecodedMessage& m, Result<std::vector<uint8_t>> stored);
  void reply_status(const ipc::DecodedMessage& m, const Status& st);

  boost::asio::io_context& io_;
  ipc::Context& zmq_;
  const ipc::Logger& log_;
  KvStore& store_;
  std::unique_ptr<ipc::LoopSocket> router_;
  std::unique_ptr<ipc::KernelLink> kernel_;
};

}  // namespace llmos::memory
