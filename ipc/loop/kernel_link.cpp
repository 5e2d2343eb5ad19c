#include "llmos/ipc/kernel_link.hpp"

#include <unistd.h>

namespace llmos::ipc {

KernelLink::KernelLink(boost::asio::io_context& io, Context& zmq, const Logger& log, KernelLinkConfig config)
    : io_(io), zmq_(zmq), log_(log), config_(std::move(config)), timer_(io) {}

Status KernelLink::start(const std::string& kernel_endpoint, Handler handler, std::function<void()> on_welcome,
                         HeartbeatFiller filler) {
  handler_ = std::move(handler);
  on_welcome_ = std::move(on_welcome);
  filler_ = std::move(filler);
  SocketOptions o;
  o.routing_id = config_.name;
  o.send_timeout = std::chrono::milliseconds(2000);
  o.limits.max_message_bytes = 4 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto s, Socket::connect(zmq_, SocketType::kDealer, kernel_endpoint, o));
  socket_ = std::make_unique<LoopSocket>(io_, std::move(s), log_);
  socket_->start([this](DecodedMessage&& m) { on_message(std::move(m)); });
  OutgoingMessage hello(next_request_id());
  auto h = hello.body().initHello();
  h.setKind(config_.kind);
  h.setPid(uint32_t(::getpid()));
  h.setName(as_text(config_.name));
  h.setEndpoint(as_text(config_.endpoint));
  return socket_->send(hello.builder());
}

void KernelLink::stop() { timer_.cancel(); }

void KernelLink::on_message(DecodedMessage&& m) {
  if (m.kind() != wire::Envelope::Body::WELCOME) {
    if (handler_) handler_(std::move(m));
    return;
  }
  auto w = m.body().getWelcome();
  interval_ms_ = std::max<uint32_t>(w.getHeartbeatIntervalMs(), 10);
  token_endpoint_ = to_string(w.getTokenEndpoint());
  memory_endpoint_ = to_string(w.getMemoryEndpoint());
  const bool first = !welcomed_;
  welcomed_ = true;
  if (first) {
    arm();
    if (on_welcome_) on_welcome_();
  }
}

void KernelLink::arm() {
  timer_.expires_after(std::chrono::milliseconds(interval_ms_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    OutgoingMessage out(next_request_id());
    auto hb = out.body().initHeartbeat();
    hb.setKind(config_.kind);
    hb.setPid(uint32_t(::getpid()));
    if (filler_) filler_(hb);
    if (Status st = socket_->send(out.builder()); !st.ok()) log_.warn("heartbeat: " + st.message());
    arm();
  });
}

}  // namespace llmos::ipc
