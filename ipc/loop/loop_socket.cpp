#include "llmos/ipc/loop_socket.hpp"

#include <boost/asio/post.hpp>

namespace llmos::ipc {
namespace {

// Messages handled per wake-up before yielding to the other sockets and timers.
constexpr int kDrainBatch = 256;

}  // namespace

LoopSocket::LoopSocket(boost::asio::io_context& io, Socket socket, const Logger& log)
    : io_(io),
      socket_(std::move(socket)),
      log_(log),
      fd_(io, socket_.raw().get(zmq::sockopt::fd)),
      alive_(std::make_shared<bool>(true)) {}

LoopSocket::~LoopSocket() {
  *alive_ = false;
  boost::system::error_code ec;
  fd_.cancel(ec);
  fd_.release();  // ZeroMQ owns the descriptor
}

void LoopSocket::start(Handler handler) {
  handler_ = std::move(handler);
  schedule_drain();  // messages may already be waiting (the edge came before us)
}

void LoopSocket::arm() {
  if (waiting_) return;
  waiting_ = true;
  std::weak_ptr<bool> alive = alive_;
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this, alive](const boost::system::error_code& ec) {
                   auto a = alive.lock();
                   if (!a || !*a || ec == boost::asio::error::operation_aborted) return;
                   waiting_ = false;
                   drain();
                 });
}

void LoopSocket::schedule_drain() {
  if (drain_posted_ || !handler_) return;
  drain_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  boost::asio::post(io_, [this, alive] {
    auto a = alive.lock();
    if (!a || !*a) return;
    drain_posted_ = false;
    drain();
  });
}

void LoopSocket::drain() {
  std::weak_ptr<bool> alive = alive_;
  for (int i = 0; i < kDrainBatch; ++i) {
    int events = 0;
    try {
      events = socket_.raw().get(zmq::sockopt::events);
    } catch (const zmq::error_t& e) {
      log_.error(name() + ": ZMQ_EVENTS: " + e.what());
      return;
    }
    if (!(events & ZMQ_POLLIN)) {
      arm();
      return;
    }
    auto msg = socket_.receive(std::chrono::milliseconds(0));
    if (!msg.ok()) {
      if (msg.status().code() == ErrorCode::kInvalidArgument) {
        ++dropped_;
        log_.warn(msg.status().message());
      } else if (msg.status().code() != ErrorCode::kDisconnected) {
        log_.error(msg.status().to_string());
      }
      continue;
    }
    handler_(std::move(msg).value());
    auto a = alive.lock();
    if (!a || !*a) return;  // the handler destroyed us
  }
  schedule_drain();  // more may wait: let timers and other sockets run first
}

Status LoopSocket::send(capnp::MessageBuilder& message, std::span<const std::string> route) {
  Status st = socket_.send(message, route);
  schedule_drain();
  return st;
}

Status LoopSocket::send_to(std::string_view peer, capnp::MessageBuilder& message) {
  Status st = socket_.send_to(peer, message);
  schedule_drain();
  return st;
}

}  // namespace llmos::ipc
