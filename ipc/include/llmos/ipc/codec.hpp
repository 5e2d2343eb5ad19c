// Encoding of Envelopes into ZeroMQ frames and validating decoding back.
// An OutgoingMessage owns its capnp builder; a DecodedMessage owns the frame it
// was read from and hands out readers that borrow from it (valid while it lives).
// Both are single-thread objects (move a DecodedMessage between threads freely).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
#include <zmq.hpp>

#include "llmos/common/status.hpp"
#include "llmos/ipc/wire.hpp"

namespace llmos::ipc {

// Limits a received message must respect; anything beyond is invalid_argument.
struct DecodeLimits {
  int64_t max_message_bytes = 16 << 20;   // payload frame; < 0 = no limit
  uint32_t max_list_elements = 1u << 22;  // any one List(...)
  uint32_t max_text_bytes = 4u << 20;     // any one Text
  uint32_t max_data_bytes = 16u << 20;    // any one Data
  int nesting_limit = 16;                 // struct/list depth
};

// A message under construction: the root Envelope already carries the protocol
// version and the request id; fill in `body()`.
class OutgoingMessage {
 public:
  explicit OutgoingMessage(uint64_t request_id);
  OutgoingMessage(const OutgoingMessage&) = delete;
  OutgoingMessage& operator=(const OutgoingMessage&) = delete;

  wire::Envelope::Builder envelope() { return envelope_; }
  wire::Envelope::Body::Builder body() { return envelope_.getBody(); }
  capnp::MessageBuilder& builder() { return builder_; }

 private:
  capnp::MallocMessageBuilder builder_;
  wire::Envelope::Builder envelope_;
};

// Builds an ErrorReply for `request_id` carrying `status` (REQUIRES: !status.ok()).
void make_error_reply(OutgoingMessage& out, const Status& status);

// Serializes `message` into one frame. invalid_argument when the encoding is
// larger than `max_bytes` (< 0 = no limit).
Result<zmq::message_t> encode(capnp::MessageBuilder& message, int64_t max_bytes = -1);

// A received, validated Envelope and the routing frames that came before it.
class DecodedMessage {
 public:
  DecodedMessage(DecodedMessage&&) noexcept;
  DecodedMessage& operator=(DecodedMessage&&) noexcept;
  ~DecodedMessage();

  wire::Envelope::Reader envelope() const;
  wire::Envelope::Body::Reader body() const { return envelope().getBody(); }
  wire::Envelope::Body::Which kind() const { return body().which(); }
  uint64_t request_id() const { return envelope().getRequestId(); }
  // Routing frames (a ROUTER socket: route()[0] is the sending peer).
  const std::vector<std::string>& route() const;
  std::string_view peer() const;  // route()[0], or "" when there is none
  size_t payload_bytes() const;

 private:
  struct State;
  explicit DecodedMessage(std::unique_ptr<State> state);
  friend Result<DecodedMessage> decode(zmq::message_t, std::vector<std::string>,
                                       const DecodeLimits&, std::string_view);
  std::unique_ptr<State> state_;
};

// Decoding is validating: a payload that is not a well-formed capnp message,
// is truncated or has trailing bytes, has another protocol version, an unknown
// message kind or enum value, or a list/text/data beyond `limits` gives
// invalid_argument naming `source` (e.g. "ROUTER ipc:///.../kernel.sock, peer
// 'io'"). Never throws.
Result<DecodedMessage> decode(zmq::message_t payload, std::vector<std::string> route,
                              const DecodeLimits& limits, std::string_view source);

// Printable form of a routing id: itself when printable ASCII, else hex.
std::string printable_peer(std::string_view routing_id);

}  // namespace llmos::ipc
