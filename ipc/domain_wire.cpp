#include "llmos/ipc/domain_wire.hpp"

#include <algorithm>
#include <climits>
#include <string>

namespace llmos::ipc {

void to_wire(const SamplingParams& p, wire::SamplingParams::Builder out) {
  out.setTemperature(p.temperature);
  out.setTopK(uint32_t(std::max(p.top_k, 0)));
  out.setTopP(p.top_p);
  out.setMinP(p.min_p);
  out.setRepeatPenalty(p.repeat_penalty);
  out.setRepeatLastN(uint32_t(std::max(p.repeat_last_n, 0)));
  out.setSeed(p.seed);
}

SamplingParams from_wire(wire::SamplingParams::Reader in) {
  SamplingParams p;
  p.temperature = in.getTemperature();
  // Out-of-range integers become -1 so that validate_sampling() names them.
  p.top_k = in.getTopK() > uint32_t(INT_MAX) ? -1 : int(in.getTopK());
  p.top_p = in.getTopP();
  p.min_p = in.getMinP();
  p.repeat_penalty = in.getRepeatPenalty();
  p.repeat_last_n = in.getRepeatLastN() > uint32_t(INT_MAX) ? -1 : int(in.getRepeatLastN());
  p.seed = in.getSeed();
  return p;
}

wire::FinishReason to_wire(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return wire::FinishReason::NONE;
    case FinishReason::kStop: return wire::FinishReason::STOP;
    case FinishReason::kLength: return wire::FinishReason::LENGTH;
    case FinishReason::kContext: return wire::FinishReason::CONTEXT;
    case FinishReason::kCancelled: return wire::FinishReason::CANCELLED;
    case FinishReason::kError: return wire::FinishReason::ERROR;
    case FinishReason::kPreempted: break;
  }
  LLMOS_REQUIRE(false, "a preemption has no wire finish reason");
  return wire::FinishReason::ERROR;
}

FinishReason from_wire(wire::FinishReason r) {
  switch (r) {
    case wire::FinishReason::NONE: return FinishReason::kNone;
    case wire::FinishReason::STOP: return FinishReason::kStop;
    case wire::FinishReason::LENGTH: return FinishReason::kLength;
    case wire::FinishReason::CONTEXT: return FinishReason::kContext;
    case wire::FinishReason::CANCELLED: return FinishReason::kCancelled;
    case wire::FinishReason::ERROR: return FinishReason::kError;
  }
  return FinishReason::kError;
}

wire::Priority to_wire(Priority p) {
  return p == Priority::kBatch ? wire::Priority::BATCH : wire::Priority::INTERACTIVE;
}

Priority from_wire(wire::Priority p) {
  return p == wire::Priority::INTERACTIVE ? Priority::kInteractive : Priority::kBatch;
}

wire::ModelState to_wire(ModelState s) {
  switch (s) {
    case ModelState::kLoading: return wire::ModelState::LOADING;
    case ModelState::kReady: return wire::ModelState::READY;
    case ModelState::kDraining: return wire::ModelState::DRAINING;
    case ModelState::kUnloaded: return wire::ModelState::UNLOADED;
    case ModelState::kFailed: return wire::ModelState::FAILED;
  }
  return wire::ModelState::FAILED;
}

ModelState from_wire(wire::ModelState s) {
  switch (s) {
    case wire::ModelState::LOADING: return ModelState::kLoading;
    case wire::ModelState::READY: return ModelState::kReady;
    case wire::ModelState::DRAINING: return ModelState::kDraining;
    case wire::ModelState::UNLOADED: return ModelState::kUnloaded;
    case wire::ModelState::FAILED: return ModelState::kFailed;
  }
  return ModelState::kFailed;
}

namespace {

// The window layers of `g`, in order, into `out` (sized g.n_window_layers()).
void window_layers_to_wire(const KvGeometry& g, capnp::List<uint32_t>::Builder out) {
  unsigned i = 0;
  for (int l = 0; l < kMaxKvWindowLayers && i < out.size(); ++l) {
    if (g.is_window_layer(l)) out.set(i++, uint32_t(l));
  }
}

// Marks the listed layers window layers of `g`; invalid_argument naming the
// layer when it is past the ones a geometry marks.
Status window_layers_from_wire(capnp::List<uint32_t>::Reader in, KvGeometry& g) {
  for (uint32_t l : in) {
    if (l >= uint32_t(kMaxKvWindowLayers)) {
      return invalid_argument("KV geometry: window layer " + std::to_string(l) + " is past the " +
                              std::to_string(kMaxKvWindowLayers) + " layers a geometry marks");
    }
    g.set_window_layer(int(l));
  }
  return ok_status();
}

}  // namespace

void to_wire(const KvGeometry& g, wire::KvShape::Builder out) {
  out.setLayers(uint32_t(g.n_layers));
  out.setKvHeads(uint32_t(g.n_kv_heads));
  out.setHeadDim(uint32_t(g.head_dim));
  out.setBlockSize(uint32_t(g.block_size));
  out.setDtype(std::string(dtype_name(g.type)));
  out.setBytesPerBlock(g.block_bytes());
  window_layers_to_wire(g, out.initWindowLayers(unsigned(g.n_window_layers())));
}

Result<KvGeometry> from_wire(wire::KvShape::Reader in) {
  KvGeometry g;
  LLMOS_RETURN_IF_ERROR(window_layers_from_wire(in.getWindowLayers(), g));
  if (g.n_window_layers() > 0) g.n_window_blocks = 1;
  auto count = [](uint32_t v) { return v > uint32_t(INT32_MAX) ? 0 : int32_t(v); };
  g.n_layers = count(in.getLayers());
  g.n_kv_heads = count(in.getKvHeads());
  g.head_dim = count(in.getHeadDim());
  g.block_size = count(in.getBlockSize());
  g.n_blocks = 1;
  const std::string dtype = to_string(in.getDtype());
  if (dtype == dtype_name(DType::kF16)) {
    g.type = DType::kF16;
  } else if (dtype == dtype_name(DType::kF32)) {
    g.type = DType::kF32;
  } else {
    return invalid_argument("KV shape: dtype must be f16 or f32, got '" + dtype + "'");
  }
  LLMOS_RETURN_IF_ERROR(validate_kv_geometry(g));
  if (in.getBytesPerBlock() != g.block_bytes()) {
    return invalid_argument("KV shape: bytesPerBlock is " + std::to_string(in.getBytesPerBlock()) + ", the shape has " +
                            std::to_string(g.block_bytes()));
  }
  return g;
}

void to_wire(const KvGeometry& g, wire::KvArena::Builder out) {
  out.setBlockSize(uint32_t(g.block_size));
  out.setNumBlocks(uint32_t(g.n_blocks));
  out.setNumWindowBlocks(uint32_t(g.n_window_blocks));
  window_layers_to_wire(g, out.initWindowLayers(unsigned(g.n_window_layers())));
}

Result<KvGeometry> from_wire(wire::KvArena::Reader in, KvGeometry shape) {
  auto count = [](uint32_t v) { return v > uint32_t(INT32_MAX) ? 0 : int32_t(v); };
  shape.block_size = count(in.getBlockSize());
  shape.n_blocks = count(in.getNumBlocks());
  shape.n_window_blocks = count(in.getNumWindowBlocks());
  for (auto& w : shape.window_layers) w = 0;
  LLMOS_RETURN_IF_ERROR(window_layers_from_wire(in.getWindowLayers(), shape));
  if (Status valid = validate_kv_geometry(shape); !valid.ok()) return invalid_argument("KV arena: " + valid.message());
  return shape;
}

void to_wire(const EngineCounters& c, capnp::List<uint64_t>::Builder out) {
  LLMOS_REQUIRE(out.size() == kEngineCounterCount, "engine counter list of the wrong size");
  for (size_t i = 0; i < kEngineCounterCount; ++i) out.set(unsigned(i), c.values[i]);
}

EngineCounters engine_counters_from_wire(capnp::List<uint64_t>::Reader in) {
  EngineCounters c;
  const size_t n = std::min<size_t>(in.size(), kEngineCounterCount);
  for (size_t i = 0; i < n; ++i) c.values[i] = in[unsigned(i)];
  return c;
}

}  // namespace llmos::ipc
