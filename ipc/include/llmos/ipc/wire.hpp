// The wire types (generated from ipc/schema/llmos.capnp into namespace
// llmos::wire) and the bridge between llmos::Status and the schema's Error.
// Free functions only; no state; safe from any thread.
#pragma once
#include <string_view>
#include <type_traits>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/ipc/llmos.capnp.h"  // generated

namespace llmos::ipc {

inline constexpr uint16_t kProtocolVersion = wire::PROTOCOL_VERSION;

// The codes are the same numbers on both sides (checked at compile time).
wire::ErrorCode to_wire(ErrorCode code);
// An unknown wire code (from a newer peer) becomes kInternal.
ErrorCode from_wire(wire::ErrorCode code);

// Fills `out` with the code and message of `status`.
void set_error(wire::Error::Builder out, const Status& status);
// The Status an Error carries. A wire error whose code is ok becomes internal.
Status to_status(wire::Error::Reader error);

// Text in and out of capnp without a copy on the way in. as_text's result
// borrows `s` (NUL-terminated, as capnp wants). REQUIRES: `s` holds no NUL byte.
inline capnp::Text::Reader as_text(const std::string& s) { return capnp::Text::Reader(s.c_str(), s.size()); }
inline std::string to_string(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

// The elements of a capnp list of primitives (its iterators are not standard ones).
template <class ListReader>
auto to_vector(ListReader list) {
  std::vector<std::decay_t<decltype(list[0])>> out;
  out.reserve(list.size());
  for (auto v : list) out.push_back(v);
  return out;
}

// The name of a body kind as written in the schema ("submit", "tokenEvent"),
// or "unknown" for a value this build does not know.
std::string_view body_name(wire::Envelope::Body::Which which);

}  // namespace llmos::ipc
