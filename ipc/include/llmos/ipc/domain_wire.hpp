// The domain types (llmos/domain/*.hpp) to and from their wire form
// (ipc/schema/llmos.capnp): the one conversion of each, used by every process.
// Free functions only; no state; safe from any thread.
#pragma once
#include <cstdint>
#include <vector>

#include "llmos/domain/engine_counters.hpp"
#include "llmos/domain/finish_reason.hpp"
#include "llmos/domain/kv_geometry.hpp"
#include "llmos/domain/model_state.hpp"
#include "llmos/domain/priority.hpp"
#include "llmos/domain/sampling.hpp"
#include "llmos/ipc/wire.hpp"

namespace llmos::ipc {

// The sampling fields of wire::SamplingParams (its maxTokens and stopIds are
// the request's, set by the caller).
void to_wire(const SamplingParams& p, wire::SamplingParams::Builder out);
SamplingParams from_wire(wire::SamplingParams::Reader in);

// REQUIRES: r != kPreempted (a preemption travels as its own message).
wire::FinishReason to_wire(FinishReason r);
FinishReason from_wire(wire::FinishReason r);  // an unknown value (newer peer): kError

wire::Priority to_wire(Priority p);
Priority from_wire(wire::Priority p);  // an unknown value: kBatch

wire::ModelState to_wire(ModelState s);
ModelState from_wire(wire::ModelState s);  // an unknown value: kFailed

// A KV block's shape for the memory service (every field of wire::KvShape).
void to_wire(const KvGeometry& g, wire::KvShape::Builder out);
// invalid_argument naming the field when the shape is not one a cache can
// have (the geometry has n_blocks = 1, and n_window_blocks = 1 when it has
// window layers: a shape describes blocks, not a cache).
Result<KvGeometry> from_wire(wire::KvShape::Reader in);

// A KV arena's block counts and window layers (blockSize, numBlocks,
// numWindowBlocks, windowLayers; shmName and bytes are the caller's).
void to_wire(const KvGeometry& g, wire::KvArena::Builder out);
// `shape` (the model's layers, heads, head size and element type) with the
// arena's block size, block counts and window layers; invalid_argument naming
// the field when that is no geometry a cache can have.
Result<KvGeometry> from_wire(wire::KvArena::Reader in, KvGeometry shape);

// Engine counters as a list in EngineCounter order; a shorter list (an older
// peer) leaves the rest at 0, a longer one's extra entries are ignored.
void to_wire(const EngineCounters& c, capnp::List<uint64_t>::Builder out);  // REQUIRES: out.size() == kEngineCounterCount
EngineCounters engine_counters_from_wire(capnp::List<uint64_t>::Reader in);

}  // namespace llmos::ipc
