// KernelLink: a service's DEALER connection to llmosd: says Hello, keeps the
// Welcome, heartbeats at the interval it gives, and hands every other message
// from the kernel to the service. Used by llmos-io and llmos-memory. Lives on
// the thread running its io_context.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "llmos/ipc/loop_socket.hpp"

namespace llmos::ipc {

struct KernelLinkConfig {
  wire::ServiceKind kind = wire::ServiceKind::IO;
  std::string name;      // "io", "memory": also the DEALER's routing id
  std::string endpoint;  // where others reach this service (Hello.endpoint)
};

class KernelLink {
 public:
  using Handler = std::function<void(DecodedMessage&&)>;
  // Called before each heartbeat is sent, to fill in load figures (optional).
  using HeartbeatFiller = std::function<void(wire::Heartbeat::Builder)>;

  KernelLink(boost::asio::io_context& io, Context& zmq, const Logger& log, KernelLinkConfig config);
  // Connects to `kernel_endpoint` and sends Hello. Messages other than the
  // Welcome go to `handler`. `on_welcome` runs once the kernel answered.
  Status start(const std::string& kernel_endpoint, Handler handler, std::function<void()> on_welcome = {},
               HeartbeatFiller filler = {});
  void stop();

  Status send(capnp::MessageBuilder& message) { return socket_->send(message); }
  bool welcomed() const { return welcomed_; }
  const std::string& token_endpoint() const { return token_endpoint_; }
  const std::string& memory_endpoint() const { return memory_endpoint_; }
  uint64_t next_request_id() { return next_request_id_++; }

 private:
  void on_message(DecodedMessage&& m);
  void arm();

  boost::asio::io_context& io_;
  Context& zmq_;
  const Logger& log_;
  KernelLinkConfig config_;
  std::unique_ptr<LoopSocket> socket_;
  boost::asio::steady_timer timer_;
  Handler handler_;
  std::function<void()> on_welcome_;
  HeartbeatFiller filler_;
  bool welcomed_ = false;
  uint32_t interval_ms_ = 200;
  std::string token_endpoint_, memory_endpoint_;
  uint64_t next_request_id_ = 1;
};

}  // namespace llmos::ipc
