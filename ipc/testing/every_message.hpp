// Test helper: builds Envelopes of every body kind with every field set (each
// scalar a different value), using the schema, so new message kinds are covered
// by the round-trip tests without editing them. Not thread-safe (a counter).
#pragma once
#include <capnp/dynamic.h>

#include <vector>

#include "llmos/ipc/codec.hpp"

namespace llmos::ipc::testing {

// Every member of Envelope.body, in schema order.
std::vector<capnp::StructSchema::Field> every_body_member();

// Fills `out` (version and request id already set by OutgoingMessage) with
// `member` as its body, every field of it set to a non-default value.
void fill_body(OutgoingMessage& out, capnp::StructSchema::Field member);

// Sets every field of `s` (the last member of each union) to a non-default value.
void fill_struct(capnp::DynamicStruct::Builder s);

}  // namespace llmos::ipc::testing
