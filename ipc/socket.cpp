#include "llmos/ipc/socket.hpp"

#include <cerrno>

namespace llmos::ipc {
namespace {

constexpr size_t kMaxRouteFrames = 4;
constexpr size_t kMaxRoutingIdBytes = 255;

int zmq_type_of(SocketType type) {
  switch (type) {
    case SocketType::kRouter: return ZMQ_ROUTER;
    case SocketType::kDealer: return ZMQ_DEALER;
    case SocketType::kPush: return ZMQ_PUSH;
    case SocketType::kPull: return ZMQ_PULL;
  }
  return ZMQ_PAIR;
}

Status zmq_status(const std::string& what, const zmq::error_t& e) {
  std::string m = what + ": " + e.what();
  switch (e.num()) {
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENAMETOOLONG:
      return invalid_argument(std::move(m));
    case ENOENT:
      return not_found(std::move(m));
    case EHOSTUNREACH:
    case ETERM:
    case ENOTCONN:
      return disconnected(std::move(m));
    default:
      return failed(std::move(m));
  }
}

}  // namespace

Context::Context(int io_threads) : context_(io_threads) {
  // Never block in zmq_ctx_term; every socket also has linger 0.
  context_.set(zmq::ctxopt::blocky, false);
}

std::string_view socket_type_name(SocketType type) {
  switch (type) {
    case SocketType::kRouter: return "ROUTER";
    case SocketType::kDealer: return "DEALER";
    case SocketType::kPush: return "PUSH";
    case SocketType::kPull: return "PULL";
  }
  return "?";
}

Socket::Socket(zmq::socket_t socket, SocketType type, std::string endpoint, SocketOptions options)
    : socket_(std::move(socket)),
      type_(type),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)) {
  name_ = options_.name.empty() ? std::string(socket_type_name(type_)) + " " + endpoint_
                                : options_.name;
}

Result<Socket> Socket::bind(Context& context, SocketType type, const std::string& endpoint,
                            SocketOptions options) {
  return open(context, type, endpoint, std::move(options), /*bind=*/true);
}

Result<Socket> Socket::connect(Context& context, SocketType type, const std::string& endpoint,
                               SocketOptions options) {
  return open(context, type, endpoint, std::move(options), /*bind=*/false);
}

Result<Socket> Socket::open(Context& context, SocketType type, const std::string& endpoint,
                            SocketOptions options, bool bind) {
  std::string what = std::string(bind ? "bind " : "connect ") +
                     std::string(socket_type_name(type)) + " " + endpoint;
  const std::string& id = options.routing_id;
  if (!id.empty() && (id.size() > kMaxRoutingIdBytes || id.front() == '\0')) {
    return invalid_argument(what + ": routing id must be 1-255 bytes and not start with a zero byte");
  }
  try {
    zmq::socket_t s(context.raw(), zmq_type_of(type));
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, options.send_hwm);
    s.set(zmq::sockopt::rcvhwm, options.recv_hwm);
    s.set(zmq::sockopt::sndtimeo, static_cast<int>(options.send_timeout.count()));
    s.set(zmq::sockopt::maxmsgsize, options.limits.max_message_bytes < 0
                                        ? int64_t{-1}
                                        : options.limits.max_message_bytes);
    if (type == SocketType::kRouter) s.set(zmq::sockopt::router_mandatory, true);
    if (type == SocketType::kRouter && options.router_handover) {
      s.set(zmq::sockopt::router_handover, true);
    }
    if (!bind && options.immediate) s.set(zmq::sockopt::immediate, true);
    if (!id.empty()) s.set(zmq::sockopt::routing_id, id);
    if (bind) {
      s.bind(endpoint);
    } else {
      s.connect(endpoint);
    }
    return Socket(std::move(s), type, endpoint, std::move(options));
  } catch (const zmq::error_t& e) {
    return zmq_status(what, e);
  }
}

Status Socket::send(capnp::MessageBuilder& message, std::span<const std::string> route) {
  auto frame = encode(message, options_.limits.max_message_bytes);
  if (!frame.ok()) return Status(frame.status().code(), name_ + ": " + frame.status().message());
  return send_frames(std::move(frame).value(), route);
}

Status Socket::send_to(std::string_view peer, capnp::MessageBuilder& message) {
  std::string route[1] = {std::string(peer)};
  return send(message, route);
}

Status Socket::send_encoded(zmq::message_t payload, std::span<const std::string> route) {
  if (options_.limits.max_message_bytes >= 0 &&
      payload.size() > static_cast<uint64_t>(options_.limits.max_message_bytes)) {
    return invalid_argument(name_ + ": message of " + std::to_string(payload.size()) +
                            " bytes exceeds the limit of " +
                            std::to_string(options_.limits.max_message_bytes) + " bytes");
  }
  return send_frames(std::move(payload), route);
}

Status Socket::send_frames(zmq::message_t payload, std::span<const std::string> route) {
  LLMOS_REQUIRE(type_ != SocketType::kPull, "a PULL socket cannot send");
  LLMOS_REQUIRE(type_ != SocketType::kRouter || !route.empty(),
                "a ROUTER send needs the peer's routing id as the first route frame");
  std::string peer = route.empty() ? std::string() : printable_peer(route.front());
  try {
    // A multipart message is queued atomically: only the first frame can block.
    bool accepted = true;
    for (size_t i = 0; i < route.size() && accepted; ++i) {
      accepted = socket_.send(zmq::buffer(route[i]), zmq::send_flags::sndmore).has_value();
    }
    if (accepted) accepted = socket_.send(payload, zmq::send_flags::none).has_value();
    if (accepted) return ok_status();
    auto timeout = std::to_string(options_.send_timeout.count()) + " ms";
    if (type_ == SocketType::kRouter) {
      return overloaded(name_ + ": peer '" + peer + "' is not reading (queue full for " +
                        timeout + ")");
    }
    return disconnected(name_ + ": no peer took the message within " + timeout +
                        " (peer gone or not reading)");
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      return disconnected(name_ + ": peer '" + peer + "' is not connected");
    }
    return zmq_status(name_ + ": send", e);
  }
}

Result<DecodedMessage> Socket::receive(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  LLMOS_REQUIRE(type_ != SocketType::kPush, "a PUSH socket cannot receive");
  const auto deadline = Clock::now() + timeout;
  zmq_pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int n = zmq_poll(&item, 1, std::max<long>(0, static_cast<long>(left.count())));
    if (n > 0) break;
    if (n < 0 && zmq_errno() != EINTR) {
      return zmq_status(name_ + ": poll", zmq::error_t());
    }
    if (n == 0 && Clock::now() >= deadline) {
      return disconnected(name_ + ": no message within " + std::to_string(timeout.count()) +
                          " ms");
    }
  }

  std::vector<std::string> route;
  zmq::message_t payload;
  size_t frames = 0;
  bool bad_route = false;
  try {
    for (;;) {
      zmq::message_t part;
      // The frames of one message arrive together: none of these can block.
      if (!socket_.recv(part, zmq::recv_flags::dontwait)) {
        return internal_error(name_ + ": a multipart message arrived incomplete");
      }
      ++frames;
      if (!part.more()) {
        payload = std::move(part);
        break;
      }
      if (route.size() < kMaxRouteFrames && part.size() <= kMaxRoutingIdBytes) {
        route.emplace_back(static_cast<const char*>(part.data()), part.size());
      } else {
        bad_route = true;  // keep draining the rest of this message
      }
    }
  } catch (const zmq::error_t& e) {
    return zmq_status(name_ + ": receive", e);
  }

  std::string source = name_;
  if (!route.empty()) source += ", peer '" + printable_peer(route.front()) + "'";
  if (bad_route) {
    return invalid_argument(source + ": dropped a message of " + std::to_string(frames) +
                            " frames (at most " + std::to_string(kMaxRouteFrames) +
                            " routing frames of at most 255 bytes, then one payload)");
  }
  if (type_ == SocketType::kRouter && route.empty()) {
    return internal_error(source + ": a ROUTER message without a routing id");
  }
  return decode(std::move(payload), std::move(route), options_.limits, source);
}

}  // namespace llmos::ipc
