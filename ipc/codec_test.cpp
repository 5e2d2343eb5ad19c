#include "llmos/ipc/codec.hpp"

#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>
#include <kj/string.h>

#include <cstring>
#include <random>
#include <string>

#include "every_message.hpp"

namespace llmos::ipc {
namespace {

std::string text_of(wire::Envelope::Reader r) { return kj::str(r).cStr(); }

std::string bytes_of(capnp::MessageBuilder& m) {
  auto frame = encode(m);
  REQUIRE(frame.ok());
  return std::string(static_cast<const char*>(frame->data()), frame->size());
}

Result<DecodedMessage> decode_bytes(const std::string& bytes, DecodeLimits limits = {}) {
  return decode(zmq::message_t(bytes.data(), bytes.size()), {}, limits, "test socket");
}

void make_submit(OutgoingMessage& out, uint32_t prompt_len) {
  auto submit = out.body().initSubmit();
  submit.setModel("stories260K");
  auto ids = submit.initPromptIds(prompt_len);
  for (uint32_t i = 0; i < prompt_len; ++i) ids.set(i, i + 1);
  submit.getSampling().setTemperature(0.0f);
  submit.getSampling().setSeed(42);
  submit.getSampling().setMaxTokens(16);
  submit.setPriority(wire::Priority::BATCH);
}

TEST_CASE("every message kind survives encode and decode unchanged") {
  auto members = testing::every_body_member();
  CHECK(members.size() >= 30);
  for (auto member : members) {
    CAPTURE(std::string(member.getProto().getName().cStr()));
    OutgoingMessage out(1000 + member.getIndex());
    testing::fill_body(out, member);
    auto frame = encode(out.builder());
    REQUIRE(frame.ok());
    auto decoded = decode(std::move(frame).value(), {}, DecodeLimits{}, "test");
    REQUIRE_MESSAGE(decoded.ok(), decoded.status().to_string());
    CHECK(decoded->request_id() == 1000 + member.getIndex());
    CHECK(static_cast<uint16_t>(decoded->kind()) == member.getProto().getDiscriminantValue());
    CHECK(text_of(decoded->envelope()) == text_of(out.envelope().asReader()));
  }
}

TEST_CASE("typed fields read back as written") {
  OutgoingMessage out(7);
  make_submit(out, 5);
  auto decoded = decode_bytes(bytes_of(out.builder()));
  REQUIRE(decoded.ok());
  CHECK(decoded->kind() == wire::Envelope::Body::SUBMIT);
  auto submit = decoded->body().getSubmit();
  CHECK(std::string(submit.getModel().cStr()) == "stories260K");
  REQUIRE(submit.getPromptIds().size() == 5);
  CHECK(submit.getPromptIds()[4] == 5);
  CHECK(submit.getSampling().getSeed() == 42);
  CHECK(submit.getSampling().getTopP() == 1.0f);  // schema default: no filtering
  CHECK(submit.getPriority() == wire::Priority::BATCH);
  CHECK(decoded->peer().empty());
}

TEST_CASE("error codes cross the wire with their message") {
  OutgoingMessage out(9);
  make_error_reply(out, overloaded("model m has 256 requests queued"));
  auto decoded = decode_bytes(bytes_of(out.builder()));
  REQUIRE(decoded.ok());
  Status st = to_status(decoded->body().getErrorReply().getError());
  CHECK(st.code() == ErrorCode::kOverloaded);
  CHECK(st.message() == "model m has 256 requests queued");
  for (unsigned c = 0; c <= static_cast<unsigned>(ErrorCode::kInternal); ++c) {
    CHECK(from_wire(to_wire(static_cast<ErrorCode>(c))) == static_cast<ErrorCode>(c));
  }
  CHECK(from_wire(static_cast<wire::ErrorCode>(200)) == ErrorCode::kInternal);
  CHECK(body_name(wire::Envelope::Body::TOKEN_EVENT) == "tokenEvent");
  CHECK(body_name(static_cast<wire::Envelope::Body::Which>(999)) == "unknown");
}

TEST_CASE("a message of another protocol version is refused") {
  OutgoingMessage out(1);
  out.body().initPing();
  out.envelope().setVersion(kProtocolVersion + 1);
  auto decoded = decode_bytes(bytes_of(out.builder()));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().code() == ErrorCode::kInvalidArgument);
  CHECK(decoded.status().message().find("test socket") != std::string::npos);
  CHECK(decoded.status().message().find("protocol version 3, expected 2") != std::string::npos);
}

TEST_CASE("truncated, empty, misaligned and padded payloads are refused") {
  OutgoingMessage out(3);
  make_submit(out, 40);
  std::string bytes = bytes_of(out.builder());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decode_bytes(bytes.substr(0, n));
    CAPTURE(n);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.status().code() == ErrorCode::kInvalidArgument);
  }
  auto padded = decode_bytes(bytes + std::string(8, '\0'));
  REQUIRE_FALSE(padded.ok());
  CHECK(padded.status().message().find("trailing bytes") != std::string::npos);
  CHECK(decode_bytes(bytes).ok());
}

TEST_CASE("random garbage is refused and mutated messages never crash the reader") {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string junk(8 * (1 + rng() % 64), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    auto decoded = decode_bytes(junk);
    CHECK_FALSE(decoded.ok());
  }
  OutgoingMessage out(3);
  make_submit(out, 8);
  const std::string bytes = bytes_of(out.builder());
  int accepted = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::string m = bytes;
    for (int flips = 1 + rng() % 3; flips > 0; --flips) m[rng() % m.size()] ^= static_cast<char>(1 + rng() % 255);
    auto decoded = decode_bytes(m);
    if (decoded.ok()) {
      ++accepted;
      // A message that passed validation can be read in full without throwing.
      CHECK_NOTHROW((void)text_of(decoded->envelope()));
    } else {
      CHECK(decoded.status().code() == ErrorCode::kInvalidArgument);
    }
  }
  MESSAGE("mutations that stayed valid: " << accepted);
}

TEST_CASE("lists, texts and payloads beyond the limits are refused, naming the field") {
  OutgoingMessage out(5);
  make_submit(out, 17);
  std::string bytes = bytes_of(out.builder());
  DecodeLimits limits;
  limits.max_list_elements = 16;
  auto decoded = decode_bytes(bytes, limits);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().code() == ErrorCode::kInvalidArgument);
  CHECK(decoded.status().message().find("field body.submit.promptIds: list of 17 elements exceeds the limit of 16") !=
        std::string::npos);

  limits = {};
  limits.max_text_bytes = 4;
  decoded = decode_bytes(bytes, limits);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().message().find("body.submit.model") != std::string::npos);

  limits = {};
  limits.max_message_bytes = 64;
  decoded = decode_bytes(bytes, limits);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().message().find("exceeds the limit of 64 bytes") != std::string::npos);

  CHECK_FALSE(encode(out.builder(), 64).ok());
}

TEST_CASE("an unknown message kind or enum value is refused") {
  OutgoingMessage out(5);
  out.body().initPing();
  std::string bytes = bytes_of(out.builder());
  // Single segment: [segment table 8 bytes][root pointer 8 bytes][root data...].
  // The body discriminant sits in the root's data section.
  auto offset = capnp::Schema::from<wire::Envelope::Body>().getProto().getStruct().getDiscriminantOffset();
  size_t at = 16 + 2 * offset;
  REQUIRE(at + 2 <= bytes.size());
  uint16_t unknown = 999;
  std::memcpy(&bytes[at], &unknown, 2);
  auto decoded = decode_bytes(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().message().find("unknown union member") != std::string::npos);

  OutgoingMessage hello(6);
  auto h = capnp::toDynamic(hello.body().initHello());
  h.set("kind", capnp::DynamicEnum(capnp::Schema::from<wire::ServiceKind>(), 77));
  decoded = decode_bytes(bytes_of(hello.builder()));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().message().find("field body.hello.kind: unknown enum value 77") != std::string::npos);
}

TEST_CASE("printable_peer shows text ids as text and binary ids in hex") {
  CHECK(printable_peer("model:stories") == "model:stories");
  CHECK(printable_peer(std::string("\0\x80\x01", 3)) == "0x008001");
  CHECK(printable_peer("") == "0x");
}

}  // namespace
}  // namespace llmos::ipc
