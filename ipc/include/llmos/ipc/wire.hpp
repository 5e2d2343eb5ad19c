// The wire types (generated from ipc/schema/llmos.capnp into namespace
// llmos::wire) and the bridge between llmos::Status and the schema's Error.
// Free functions only; no state; safe from any thread.
#pragma once
#include <string_view>

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

// The name of a body kind as written in the schema ("submit", "tokenEvent"),
// or "unknown" for a value this build does not know.
std::string_view body_name(wire::Envelope::Body::Which which);

}  // namespace llmos::ipc
