#include "llmos/ipc/codec.hpp"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <exception>
#include <limits>

#include "validate.hpp"

namespace llmos::ipc {

OutgoingMessage::OutgoingMessage(uint64_t request_id)
    : envelope_(builder_.initRoot<wire::Envelope>()) {
  envelope_.setVersion(kProtocolVersion);
  envelope_.setRequestId(request_id);
}

void make_error_reply(OutgoingMessage& out, const Status& status) {
  LLMOS_REQUIRE(!status.ok(), "an ErrorReply needs an error");
  set_error(out.body().initErrorReply().initError(), status);
}

Result<zmq::message_t> encode(capnp::MessageBuilder& message, int64_t max_bytes) {
  try {
    size_t words = capnp::computeSerializedSizeInWords(message);
    size_t bytes = words * sizeof(capnp::word);
    if (max_bytes >= 0 && bytes > static_cast<uint64_t>(max_bytes)) {
      return invalid_argument("message of " + std::to_string(bytes) +
                              " bytes exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    }
    zmq::message_t frame(bytes);
    kj::ArrayOutputStream stream(
        kj::arrayPtr(static_cast<kj::byte*>(frame.data()), frame.size()));
    capnp::writeMessage(stream, message);
    return frame;
  } catch (const kj::Exception& e) {
    return internal_error(std::string("encoding a message: ") + e.getDescription().cStr());
  }
}

std::string printable_peer(std::string_view routing_id) {
  bool printable = !routing_id.empty();
  for (char c : routing_id) printable = printable && c > 0x20 && c < 0x7f;
  if (printable) return std::string(routing_id);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : routing_id) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

struct DecodedMessage::State {
  zmq::message_t frame;                // the received bytes (when 8-byte aligned)
  kj::Array<capnp::word> aligned;      // an aligned copy (when they were not)
  std::vector<std::string> route;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader;
  wire::Envelope::Reader envelope;
};

DecodedMessage::DecodedMessage(std::unique_ptr<State> state) : state_(std::move(state)) {}
DecodedMessage::DecodedMessage(DecodedMessage&&) noexcept = default;
DecodedMessage& DecodedMessage::operator=(DecodedMessage&&) noexcept = default;
DecodedMessage::~DecodedMessage() = default;

wire::Envelope::Reader DecodedMessage::envelope() const { return state_->envelope; }
const std::vector<std::string>& DecodedMessage::route() const { return state_->route; }
std::string_view DecodedMessage::peer() const {
  return state_->route.empty() ? std::string_view() : std::string_view(state_->route.front());
}
size_t DecodedMessage::payload_bytes() const {
  return state_->frame.size();
}

Result<DecodedMessage> decode(zmq::message_t payload, std::vector<std::string> route,
                              const DecodeLimits& limits, std::string_view source) {
  const size_t bytes = payload.size();
  auto fail = [&](const std::string& why) {
    return invalid_argument(std::string(source) + ": dropped a malformed message (" +
                            std::to_string(bytes) + " bytes): " + why);
  };
  if (limits.max_message_bytes >= 0 && bytes > static_cast<uint64_t>(limits.max_message_bytes)) {
    return fail("exceeds the limit of " + std::to_string(limits.max_message_bytes) + " bytes");
  }
  if (bytes == 0) return fail("empty payload");
  if (bytes % sizeof(capnp::word) != 0) return fail("not a whole number of 8-byte words (truncated?)");

  // The State is heap-allocated, so the frame (even a small one stored inside
  // the zmq_msg_t) stays put once moved in.
  auto state = std::make_unique<DecodedMessage::State>();
  state->route = std::move(route);
  state->frame = std::move(payload);
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<uintptr_t>(state->frame.data()) % alignof(capnp::word) == 0) {
    words = kj::arrayPtr(static_cast<const capnp::word*>(state->frame.data()),
                         bytes / sizeof(capnp::word));
  } else {
    state->aligned = kj::heapArray<capnp::word>(bytes / sizeof(capnp::word));
    std::memcpy(state->aligned.begin(), state->frame.data(), bytes);
    words = state->aligned.asPtr();
  }

  try {
    // Pass 1: validate with a traversal limit proportional to the size, so a
    // message whose pointers overlap (amplification) cannot make us loop.
    capnp::ReaderOptions strict;
    strict.traversalLimitInWords = 2 * words.size() + 64;
    strict.nestingLimit = limits.nesting_limit;
    {
      capnp::FlatArrayMessageReader reader(words, strict);
      if (reader.getEnd() != words.end()) return fail("trailing bytes after the message");
      auto root = reader.getRoot<wire::Envelope>();
      if (root.getVersion() != kProtocolVersion) {
        return fail("protocol version " + std::to_string(root.getVersion()) + ", expected " +
                    std::to_string(kProtocolVersion));
      }
      Status st = validate_struct(capnp::toDynamic(root), limits);
      if (!st.ok()) return fail(st.message());
    }
    // Pass 2: the reader callers use. Validation has bounded the message, so
    // repeated reads of the same field must not trip a cumulative limit.
    capnp::ReaderOptions relaxed;
    relaxed.traversalLimitInWords = std::numeric_limits<uint64_t>::max();
    relaxed.nestingLimit = limits.nesting_limit;
    state->reader = std::make_unique<capnp::FlatArrayMessageReader>(words, relaxed);
    state->envelope = state->reader->getRoot<wire::Envelope>();
  } catch (const kj::Exception& e) {
    return fail(e.getDescription().cStr());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return DecodedMessage(std::move(state));
}

}  // namespace llmos::ipc
