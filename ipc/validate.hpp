// Private to llmos_ipc: the schema-driven walk that checks a received Envelope
// against DecodeLimits before any caller reads it. Stateless; thread-safe.
#pragma once
#include <capnp/dynamic.h>

#include "llmos/common/status.hpp"
#include "llmos/ipc/codec.hpp"

namespace llmos::ipc {

// Visits every field of `root` that this build knows (only the active member of
// each union): checks list/text/data sizes against `limits`, that every union
// and enum holds a value this build knows, and that every pointer is in bounds
// (the capnp reader throws on one that is not; callers catch kj::Exception).
// Returns invalid_argument naming the field path ("body.submit.promptIds").
Status validate_struct(capnp::DynamicStruct::Reader root, const DecodeLimits& limits);

}  // namespace llmos::ipc
