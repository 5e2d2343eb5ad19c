// RAII ZeroMQ context and sockets that speak Envelopes: multipart messages of
// routing frames plus one capnp payload frame, send/receive with timeouts,
// high-water marks, linger 0, and a size cap enforced by ZeroMQ itself.
// A Context is thread-safe and must outlive its sockets; a Socket belongs to
// one thread at a time (ZeroMQ's rule). Errors are Status values, never thrown.
#pragma once
#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "llmos/common/status.hpp"
#include "llmos/ipc/codec.hpp"

namespace llmos::ipc {

class Context {
 public:
  explicit Context(int io_threads = 1);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  zmq::context_t& raw() { return context_; }

 private:
  zmq::context_t context_;
};

enum class SocketType { kRouter, kDealer, kPush, kPull };
std::string_view socket_type_name(SocketType type);  // "ROUTER", ...

struct SocketOptions {
  std::string name;        // for error messages; default "<TYPE> <endpoint>"
  std::string routing_id;  // DEALER: the id the ROUTER sees (1-255 bytes, not starting with 0)
  int send_hwm = 1000;     // messages queued per peer before send blocks/fails
  int recv_hwm = 1000;
  std::chrono::milliseconds send_timeout{2000};  // how long send() may block
  // ROUTER: a new connection with the routing id of an existing peer takes its
  // place (a restarted service reconnects under its old name) instead of being
  // ignored.
  bool router_handover = false;
  // Connecting sockets: queue nothing for a peer that is not connected (sends
  // fail or wait instead). Off for a PUSH whose messages should wait in the
  // pipe until its peer is there.
  bool immediate = true;
  // limits.max_message_bytes also becomes ZMQ_MAXMSGSIZE: a peer that sends a
  // bigger frame over ipc:// or tcp:// is disconnected by ZeroMQ and its
  // message never arrives. Outgoing messages are held to the same cap.
  DecodeLimits limits;
};

class Socket {
 public:
  // Creates a socket of `type` and binds / connects it to `endpoint`
  // ("ipc:///run/user/1000/llmos/kernel.sock", "inproc://x", "tcp://...").
  // ROUTER sockets report unknown peers (ZMQ_ROUTER_MANDATORY); connecting
  // sockets queue nothing to a peer that is not connected (ZMQ_IMMEDIATE).
  static Result<Socket> bind(Context& context, SocketType type, const std::string& endpoint,
                             SocketOptions options = {});
  static Result<Socket> connect(Context& context, SocketType type, const std::string& endpoint,
                                SocketOptions options = {});

  Socket(Socket&&) noexcept = default;
  Socket& operator=(Socket&&) noexcept = default;

  // Sends `route` frames then the encoded message. A ROUTER REQUIRES a route
  // whose first frame is the peer's routing id. Errors: disconnected (the peer
  // is unknown or gone, or nothing took the message within send_timeout),
  // overloaded (a ROUTER peer's queue is full), invalid_argument (too big).
  Status send(capnp::MessageBuilder& message, std::span<const std::string> route = {});
  Status send_to(std::string_view peer, capnp::MessageBuilder& message);  // ROUTER
  Status send_encoded(zmq::message_t payload, std::span<const std::string> route = {});

  // The next message, waiting at most `timeout` (0: only what is already there).
  // disconnected: nothing arrived in time. invalid_argument: a message arrived
  // but was malformed (see decode()); it has been consumed and dropped, and the
  // socket is ready for the next one.
  Result<DecodedMessage> receive(std::chrono::milliseconds timeout);

  const std::string& name() const { return name_; }
  const std::string& endpoint() const { return endpoint_; }
  SocketType type() const { return type_; }
  // The underlying socket, for event-loop integration (ZMQ_FD) and tests.
  zmq::socket_t& raw() { return socket_; }

 private:
  Socket(zmq::socket_t socket, SocketType type, std::string endpoint, SocketOptions options);
  static Result<Socket> open(Context& context, SocketType type, const std::string& endpoint,
                             SocketOptions options, bool bind);
  Status send_frames(zmq::message_t payload, std::span<const std::string> route);

  zmq::socket_t socket_;
  SocketType type_;
  std::string endpoint_;
  std::string name_;
  SocketOptions options_;
};

}  // namespace llmos::ipc
