#include "llmos/ipc/socket.hpp"

#include <doctest/doctest.h>
#include <kj/string.h>

#include <string>
#include <thread>

#include "every_message.hpp"
#include "llmos/ipc/runtime_dir.hpp"
#include "temp_dir.hpp"

namespace llmos::ipc {
namespace {

using namespace std::chrono_literals;

std::string text_of(wire::Envelope::Reader r) { return kj::str(r).cStr(); }

template <class T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

SocketOptions named(std::string routing_id = {}) {
  SocketOptions o;
  o.routing_id = std::move(routing_id);
  o.send_timeout = 200ms;
  return o;
}

void send_ping(Socket& s, uint64_t id, std::string_view peer = {}) {
  OutgoingMessage out(id);
  out.body().initPing();
  Status st = peer.empty() ? s.send(out.builder()) : s.send_to(peer, out.builder());
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

// Sends every message kind both ways over a DEALER/ROUTER pair and one way over
// PUSH/PULL, checking each arrives unchanged and from the right peer.
void round_trip_everything(Context& ctx, const std::string& control, const std::string& stream) {
  auto router = must(Socket::bind(ctx, SocketType::kRouter, control, named()));
  auto dealer = must(Socket::connect(ctx, SocketType::kDealer, control, named("model:a")));
  auto pull = must(Socket::bind(ctx, SocketType::kPull, stream, named()));
  auto push = must(Socket::connect(ctx, SocketType::kPush, stream, named()));
  for (auto member : testing::every_body_member()) {
    CAPTURE(std::string(member.getProto().getName().cStr()));
    OutgoingMessage out(member.getIndex() + 1);
    testing::fill_body(out, member);
    const std::string expected = text_of(out.envelope().asReader());

    REQUIRE(dealer.send(out.builder()).ok());
    auto at_router = must(router.receive(2000ms));
    CHECK(at_router.peer() == "model:a");
    CHECK(text_of(at_router.envelope()) == expected);

    REQUIRE(router.send_to(at_router.peer(), out.builder()).ok());
    auto at_dealer = must(dealer.receive(2000ms));
    CHECK(at_dealer.route().empty());
    CHECK(text_of(at_dealer.envelope()) == expected);

    REQUIRE(push.send(out.builder()).ok());
    auto at_pull = must(pull.receive(2000ms));
    CHECK(text_of(at_pull.envelope()) == expected);
  }
}

TEST_CASE("every message kind round-trips over inproc sockets") {
  Context ctx;
  round_trip_everything(ctx, "inproc://control", "inproc://tokens");
}

TEST_CASE("every message kind round-trips over ipc sockets in a runtime dir") {
  testing::TempDir tmp;
  auto dir = tmp.path() / "run";
  REQUIRE(ensure_private_dir(dir).ok());
  Context ctx;
  round_trip_everything(ctx, must(ipc_endpoint(dir, kKernelSocket)), must(ipc_endpoint(dir, kTokenSocket)));
}

TEST_CASE("receive times out with disconnected") {
  Context ctx;
  auto pull = must(Socket::bind(ctx, SocketType::kPull, "inproc://quiet", named()));
  auto start = std::chrono::steady_clock::now();
  auto r = pull.receive(50ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kDisconnected);
  CHECK(r.status().message() == "PULL inproc://quiet: no message within 50 ms");
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(pull.receive(0ms).status().code() == ErrorCode::kDisconnected);
}

TEST_CASE("sending to a peer that is gone, or to nobody, is disconnected") {
  Context ctx;
  auto router = must(Socket::bind(ctx, SocketType::kRouter, "inproc://k", named()));
  Status st;
  {
    auto dealer = must(Socket::connect(ctx, SocketType::kDealer, "inproc://k", named("io")));
    send_ping(dealer, 1);
    auto hello = must(router.receive(1000ms));
    CHECK(hello.peer() == "io");
  }
  OutgoingMessage out(2);
  out.body().initAck();
  for (int i = 0; i < 100; ++i) {  // the ROUTER learns of the close asynchronously
    st = router.send_to("io", out.builder());
    if (!st.ok()) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(st.code() == ErrorCode::kDisconnected);
  CHECK(st.message() == "ROUTER inproc://k: peer 'io' is not connected");
  st = router.send_to("never-seen", out.builder());
  CHECK(st.code() == ErrorCode::kDisconnected);

  testing::TempDir tmp;
  auto lonely = must(Socket::connect(ctx, SocketType::kDealer, "ipc://" + (tmp.path() / "none.sock").string(), named()));
  st = lonely.send(out.builder());
  CHECK(st.code() == ErrorCode::kDisconnected);
  CHECK(st.message().find("no peer took the message within 200 ms") != std::string::npos);
}

TEST_CASE("garbage and badly framed messages are dropped with invalid_argument; the socket keeps working") {
  Context ctx;
  auto router = must(Socket::bind(ctx, SocketType::kRouter, "inproc://g", named()));
  auto dealer = must(Socket::connect(ctx, SocketType::kDealer, "inproc://g", named("svc-a")));

  dealer.raw().send(zmq::str_buffer("definitely not capnp"), zmq::send_flags::none);
  auto r = router.receive(1000ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().find("ROUTER inproc://g, peer 'svc-a': dropped a malformed message") == 0);

  for (int i = 0; i < 9; ++i) dealer.raw().send(zmq::str_buffer("x"), zmq::send_flags::sndmore);
  dealer.raw().send(zmq::str_buffer("y"), zmq::send_flags::none);
  r = router.receive(1000ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().find("dropped a message of 11 frames") != std::string::npos);

  send_ping(dealer, 77);
  auto good = must(router.receive(1000ms));
  CHECK(good.request_id() == 77);
  CHECK(good.kind() == wire::Envelope::Body::PING);
}

TEST_CASE("an oversized message is dropped: by ZeroMQ over ipc, by the decoder over inproc") {
  testing::TempDir tmp;
  std::string endpoint = "ipc://" + (tmp.path() / "big.sock").string();
  Context ctx;
  SocketOptions small = named();
  small.limits.max_message_bytes = 1024;
  auto pull = must(Socket::bind(ctx, SocketType::kPull, endpoint, small));

  OutgoingMessage big(1);
  big.body().initPing().initPayload(4096);

  auto capped = must(Socket::connect(ctx, SocketType::kPush, endpoint, small));
  Status st = capped.send(big.builder());
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message().find("exceeds the limit of 1024 bytes") != std::string::npos);

  SocketOptions unlimited = named();
  unlimited.limits.max_message_bytes = -1;
  {
    auto sender = must(Socket::connect(ctx, SocketType::kPush, endpoint, unlimited));
    REQUIRE(sender.send(big.builder()).ok());
    auto r = pull.receive(300ms);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kDisconnected);  // never arrived
  }
  send_ping(capped, 2);  // the receiver still serves well-behaved peers
  auto ok = must(pull.receive(2000ms));
  CHECK(ok.request_id() == 2);

  auto in_pull = must(Socket::bind(ctx, SocketType::kPull, "inproc://big", small));
  auto in_push = must(Socket::connect(ctx, SocketType::kPush, "inproc://big", unlimited));
  REQUIRE(in_push.send(big.builder()).ok());
  auto r = in_pull.receive(1000ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("bad endpoints and routing ids are refused at open") {
  Context ctx;
  auto r = Socket::bind(ctx, SocketType::kRouter, "nonsense://x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("bind ROUTER nonsense://x") == 0);
  auto first = must(Socket::bind(ctx, SocketType::kRouter, "inproc://taken"));
  r = Socket::bind(ctx, SocketType::kRouter, "inproc://taken");
  CHECK_FALSE(r.ok());
  SocketOptions bad;
  bad.routing_id = std::string("\0x", 2);
  r = Socket::connect(ctx, SocketType::kDealer, "inproc://taken", bad);
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmos::ipc
