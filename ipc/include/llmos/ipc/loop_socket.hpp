// LoopSocket: an ipc::Socket driven by a Boost.Asio io_context. It waits on the
// socket's ZMQ_FD, which is edge-triggered: on each wake-up (and after each send,
// which can consume the edge) it drains messages while ZMQ_EVENTS reports input,
// handing each decoded one to the handler. Malformed messages are logged and
// dropped. Owned by, and used only on, the thread running its io_context; it must
// be destroyed before that io_context runs again after a stop (no handler may
// outlive it).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "llmos/ipc/log.hpp"
#include "llmos/ipc/socket.hpp"

namespace llmos::ipc {

class LoopSocket {
 public:
  using Handler = std::function<void(DecodedMessage&&)>;

  // REQUIRES: `io` and `log` outlive this object.
  LoopSocket(boost::asio::io_context& io, Socket socket, const Logger& log);
  LoopSocket(const LoopSocket&) = delete;
  LoopSocket& operator=(const LoopSocket&) = delete;
  ~LoopSocket();

  // Starts delivering messages to `handler` (on the io_context's thread).
  void start(Handler handler);

  // As Socket::send / send_to; afterwards a drain is scheduled (see above).
  Status send(capnp::MessageBuilder& message, std::span<const std::string> route = {});
  Status send_to(std::string_view peer, capnp::MessageBuilder& message);

  Socket& socket() { return socket_; }
  const std::string& name() const { return socket_.name(); }
  uint64_t dropped() const { return dropped_; }  // malformed messages dropped so far

 private:
  void arm();
  void drain();
  void schedule_drain();

  boost::asio::io_context& io_;
  Socket socket_;
  const Logger& log_;
  boost::asio::posix::stream_descriptor fd_;
  Handler handler_;
  bool waiting_ = false;       // an async_wait is outstanding
  bool drain_posted_ = false;  // a drain is queued on the io_context
  uint64_t dropped_ = 0;
  std::shared_ptr<bool> alive_;  // posted drains check it
};

}  // namespace llmos::ipc
