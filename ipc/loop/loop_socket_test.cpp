#include "llmos/ipc/loop_socket.hpp"

#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <vector>

#include "llmos/ipc/runtime_dir.hpp"
#include "temp_dir.hpp"

namespace llmos::ipc {
namespace {

using namespace std::chrono_literals;

template <class T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

SocketOptions named(std::string routing_id = {}) {
  SocketOptions o;
  o.routing_id = std::move(routing_id);
  o.send_timeout = 500ms;
  return o;
}

TEST_CASE("a LoopSocket delivers every message, including ones sent from its own handler") {
  testing::TempDir tmp;
  auto dir = tmp.path() / "run";
  REQUIRE(ensure_private_dir(dir).ok());
  const std::string endpoint = must(ipc_endpoint(dir, "loop"));
  Logger log("loop-test");
  boost::asio::io_context io;
  Context ctx;
  LoopSocket router(io, must(Socket::bind(ctx, SocketType::kRouter, endpoint, named())), log);
  LoopSocket dealer(io, must(Socket::connect(ctx, SocketType::kDealer, endpoint, named("peer"))), log);

  constexpr int kMessages = 2000;
  int at_router = 0, at_dealer = 0;
  router.start([&](DecodedMessage&& m) {
    CHECK(m.peer() == "peer");
    ++at_router;
    // Reply from inside the handler: the send may swallow the fd's edge.
    OutgoingMessage reply(m.request_id());
    reply.body().initAck();
    CHECK(router.send_to(m.peer(), reply.builder()).ok());
  });
  dealer.start([&](DecodedMessage&& m) {
    CHECK(m.kind() == wire::Envelope::Body::ACK);
    if (++at_dealer == kMessages) io.stop();
  });
  for (int i = 1; i <= kMessages; ++i) {
    OutgoingMessage out{uint64_t(i)};
    out.body().initPing();
    REQUIRE(dealer.send(out.builder()).ok());
  }
  boost::asio::steady_timer guard(io, 10s);
  guard.async_wait([&](const boost::system::error_code&) { io.stop(); });
  io.run();
  CHECK(at_router == kMessages);
  CHECK(at_dealer == kMessages);
}

TEST_CASE("a malformed message is dropped and counted; the next one arrives") {
  testing::TempDir tmp;
  auto dir = tmp.path() / "run";
  REQUIRE(ensure_private_dir(dir).ok());
  const std::string endpoint = must(ipc_endpoint(dir, "bad"));
  Logger log("loop-test");
  boost::asio::io_context io;
  Context ctx;
  LoopSocket pull(io, must(Socket::bind(ctx, SocketType::kPull, endpoint, named())), log);
  auto push = must(Socket::connect(ctx, SocketType::kPush, endpoint, named()));
  int good = 0;
  pull.start([&](DecodedMessage&&) {
    ++good;
    io.stop();
  });
  zmq::message_t garbage(24);
  std::memset(garbage.data(), 0xab, garbage.size());
  REQUIRE(push.send_encoded(std::move(garbage)).ok());
  OutgoingMessage out(7);
  out.body().initPing();
  REQUIRE(push.send(out.builder()).ok());
  boost::asio::steady_timer guard(io, 10s);
  guard.async_wait([&](const boost::system::error_code&) { io.stop(); });
  io.run();
  CHECK(good == 1);
  CHECK(pull.dropped() == 1);
}

}  // namespace
}  // namespace llmos::ipc
