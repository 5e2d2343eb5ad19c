# The llmos wire protocol: the one definition of every message that llmos
# processes exchange (kernel `llmosd`, `llmos-model`, `llmos-memory`, `llmos-io`,
# and clients such as the `llmos` shell). See ipc/README.md for the sockets.
#
# Rules every sender and receiver follows:
# - Every ZeroMQ message carries exactly one `Envelope` as its last frame
#   (earlier frames, if any, are ZeroMQ routing ids). `version` must equal
#   `protocolVersion`; a receiver drops any other version with `invalidArgument`.
# - Every request carries a `requestId`, unique per sender and never 0. A reply
#   (or a stream of events) carries the `requestId` of the request it answers.
#   For generation, the id the I/O service gives a `Submit` is the id of that
#   generation everywhere: `Dispatch`, `Cancel`, `Preempt`, `TokenEvent`, the swap
#   messages of its KV blocks.
# - A request either succeeds with the reply named in its comment or fails with
#   an `ErrorReply`. Errors carry a code classified by what the caller should do
#   (see `ErrorCode`) and a message that names the input at fault.
# - Exceptions never cross a process boundary: a receiver validates every
#   message before it acts on it (ipc/codec.hpp) and drops a malformed one.
# - Compatibility: processes of one system come from one build. A change that
#   removes a field or alters its meaning bumps `protocolVersion`, so a stray
#   process of another build is refused instead of misread.

@0xaa1ffcabccffb1c0;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("llmos::wire");

const protocolVersion :UInt16 = 2;
# Bumped on every incompatible change. Processes of one system always come from
# one build, so a mismatch means a stray process from another build.

# ---------------------------------------------------------------------------
# Common types

enum ErrorCode {
  # Classified by remedy; values equal llmos::ErrorCode (common/status.hpp).
  ok @0;
  invalidArgument @1;  # the input is wrong: fix it, do not retry as is
  notFound @2;         # the named model, request, session or peer does not exist
  overloaded @3;       # back off and retry later (queue full, memory cap reached)
  disconnected @4;     # the peer went away or timed out: retry elsewhere / reconnect
  unimplemented @5;    # not supported by this build or device
  failed @6;           # the operation failed (I/O error, does not fit the budget)
  internal @7;         # a bug in llmos
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;    # human-readable; names the input (model, file, field)
}

enum ServiceKind {
  kernel @0;   # llmosd
  model @1;    # llmos-model: one per loaded model (and replica)
  memory @2;   # llmos-memory
  io @3;       # llmos-io
  client @4;   # the shell, the client library, llmos-bench
}

enum Device {
  cpu @0;
  cuda @1;
  auto @2;     # loadModel: CUDA where this build has the driver and a GPU answers, else the CPU
}

enum Priority {
  interactive @0;  # a person is waiting: scheduled first
  batch @1;        # throughput work: runs when interactive work leaves room (and
                   # ages, so it is never starved)
}

enum ModelState {
  loading @0;   # validating the file, reserving memory, starting its service
  ready @1;     # serving
  draining @2;  # unload requested: finishes admitted requests, admits no new ones
  unloaded @3;  # gone; its memory is released
  failed @4;    # the load or the service failed; `ModelInfo.failure` says why
}

enum ServiceState {
  starting @0;    # spawned, not yet registered with `Hello`
  running @1;     # registered and heartbeating
  restarting @2;  # exited or missed its heartbeats; waiting out the backoff
  stopped @3;     # stopped on purpose (unload, shutdown)
}

enum FinishReason {
  none @0;       # not finished (an intermediate TokenEvent)
  length @1;     # reached maxTokens or the end of the context
  stop @2;       # produced an end-of-sequence token or one of `stopIds`
  cancelled @3;  # cancelled by the client, or it disconnected
  error @4;      # failed; `TokenEvent.error` says why
  context @5;    # the sequence filled the model's context before maxTokens
}

struct SamplingParams {
  # Senders always set every field; the defaults mean "no filtering".
  temperature @0 :Float32 = 1.0;    # 0 = greedy (argmax)
  topK @1 :UInt32 = 0;              # 0 = off
  topP @2 :Float32 = 1.0;           # 1 = off; in (0, 1]
  minP @3 :Float32 = 0.0;           # 0 = off; in [0, 1]
  repeatPenalty @4 :Float32 = 1.0;  # 1 = off; > 0
  seed @5 :UInt64;
  # Always set: the I/O service draws one when the client gives none, so that a
  # request re-dispatched after a crash continues with the same tokens (sampling
  # is a function of the seed and the token position).
  maxTokens @6 :UInt32 = 256;       # tokens to generate, >= 1
  stopIds @7 :List(UInt32);         # token ids (besides end-of-sequence) that stop
  repeatLastN @8 :UInt32 = 64;      # tokens the repetition penalty looks back over
  # The sampling fields are llmos::SamplingParams (domain/sampling.hpp), converted
  # by ipc/domain_wire.hpp and validated by validate_sampling() there.
}

# ---------------------------------------------------------------------------
# The envelope: the only root type on the wire.

struct Envelope {
  version @0 :UInt16;
  requestId @1 :UInt64;

  body :union {
    # --- generic replies
    errorReply @2 :ErrorReply;
    ack @3 :Ack;

    # --- kernel control (services and clients <-> llmosd)
    hello @4 :Hello;
    welcome @5 :Welcome;
    heartbeat @6 :Heartbeat;
    ping @7 :Ping;
    pong @8 :Pong;
    loadModel @9 :LoadModel;
    loadProgress @10 :LoadProgress;
    unloadModel @11 :UnloadModel;
    listModels @12 :ListModels;
    modelList @13 :ModelList;
    modelInfo @14 :ModelInfo;
    listServices @15 :ListServices;
    serviceList @16 :ServiceList;
    getStats @17 :GetStats;
    stats @18 :Stats;
    shutdown @19 :Shutdown;

    # --- generation
    generate @20 :Generate;        # client -> io
    textEvent @21 :TextEvent;      # io -> client
    submit @22 :Submit;            # io -> kernel
    admitted @23 :Admitted;        # kernel -> io
    cancel @24 :Cancel;            # io -> kernel -> model
    dispatch @25 :Dispatch;        # kernel -> model
    preempt @26 :Preempt;          # kernel -> model
    preempted @27 :Preempted;      # model -> kernel
    tokenEvent @28 :TokenEvent;    # model -> io (and the final one -> kernel)

    # --- memory service (model / io -> llmos-memory)
    swapOut @29 :SwapOut;
    swapIn @30 :SwapIn;
    swapDrop @31 :SwapDrop;
    kvSnapshot @32 :KvSnapshot;
    saveSession @33 :SaveSession;
    restoreSession @34 :RestoreSession;
    deleteSession @35 :DeleteSession;
    listSessions @36 :ListSessions;
    sessionList @37 :SessionList;

    # --- load on demand (appended)
    ensureModel @38 :EnsureModel;  # io -> kernel
    releaseModel @39 :ReleaseModel;  # io -> kernel
  }
}

# ---------------------------------------------------------------------------
# Generic replies

struct ErrorReply {
  # The request named by `Envelope.requestId` failed.
  error @0 :Error;
}

struct Ack {
  # The request named by `Envelope.requestId` succeeded and has no other answer.
}

# ---------------------------------------------------------------------------
# Kernel control

struct Hello {
  # service -> kernel, first message on its DEALER socket (and again after the
  # kernel is restarted). Reply: `welcome`.
  kind @0 :ServiceKind;
  pid @1 :UInt32;
  name @2 :Text;       # unique per system: "io", "memory", "model:<model>[#<replica>]"
  endpoint @3 :Text;   # where others reach this service (io: its token PULL socket;
                       # memory: its ROUTER socket); empty if none
  model @4 :Text;      # model services: the model they serve
  device @5 :Device;   # model services: the device they run on (cpu or cuda)
}

struct Welcome {
  # kernel -> service, reply to `hello`.
  kernelPid @0 :UInt32;
  heartbeatIntervalMs @1 :UInt32;  # send a Heartbeat at least this often
  heartbeatTimeoutMs @2 :UInt32;   # silent this long => killed and restarted
  tokenEndpoint @3 :Text;          # where model services PUSH TokenEvents
  memoryEndpoint @4 :Text;         # the memory service's ROUTER socket
  kvArena @5 :KvArena;             # model services: the arena to map
}

struct KvArena {
  # A shared-memory KV arena the kernel created for one model. The block table
  # and each sequence's committed length live inside it, so a replacement model
  # service maps it and continues.
  shmName @0 :Text;       # POSIX shared memory name ("/llmos-<uid>-<model>")
  bytes @1 :UInt64;
  blockSize @2 :UInt32;   # tokens per block
  numBlocks @3 :UInt32;   # blocks of each layer but the window layers
  numWindowBlocks @4 :UInt32;       # blocks of each window layer (0: none)
  windowLayers @5 :List(UInt32);    # the window layers: sliding-window layers
                                    # whose planes hold only numWindowBlocks
}

struct Heartbeat {
  # service -> kernel, every `heartbeatIntervalMs`. No reply.
  kind @0 :ServiceKind;
  pid @1 :UInt32;
  activeSequences @2 :UInt32;
  queuedSequences @3 :UInt32;
  kvBlocksUsed @4 :UInt32;
  kvBlocksTotal @5 :UInt32;
  tokensGenerated @6 :UInt64;  # since the service started
  progress @7 :List(SequenceProgress);
  # model services: tokens generated since the previous heartbeat, so the kernel
  # can re-dispatch a request with the tokens already streamed.
  # Model services, counted since the service started: the engine counters
  # (domain/engine_counters.hpp), one value each in EngineCounter order.
  engineCounters @8 :List(UInt64);
}

struct SequenceProgress {
  requestId @0 :UInt64;
  offset @1 :UInt32;         # index among the generated tokens of ids[0]
  ids @2 :List(UInt32);
}

struct Ping {
  # anyone -> kernel. Reply: `pong`. Used by `llmos up` to wait for readiness
  # and by llmos-bench to time a round trip.
  payload @0 :Data;          # echoed back
}

struct Pong {
  kernelPid @0 :UInt32;
  ready @1 :Bool;            # every service registered
  modelsReady @2 :UInt32;
  payload @3 :Data;
}

struct LoadModel {
  # client -> kernel. Replies: zero or more `loadProgress`, then `modelInfo`
  # (state ready) or `errorReply` (missing/corrupt file: invalidArgument or
  # notFound; does not fit the memory budget: failed, naming needed and
  # available bytes; name taken: invalidArgument).
  path @0 :Text;             # a GGUF file
  name @1 :Text;             # unique; empty = the file's stem
  ctx @2 :UInt32;            # context length in tokens; 0 = the model's own
  threads @3 :UInt32;        # CPU threads; 0 = automatic
  device @4 :Device;
  chatTemplateFile @5 :Text; # absolute path of a Jinja chat template that llmos-io
                             # renders for the model instead of its own; empty = its own
}

struct EnsureModel {
  # io -> kernel: make sure a model is loaded, loading a stored one (a model
  # store name NAME[:TAG] in the kernel's --models-dir) when it is not. Every
  # request for a model that is loading waits for that one load. Reply:
  # `modelInfo` (state ready; `name` is the loaded name, "NAME:TAG" for a
  # stored model) or `errorReply` (notFound naming the model; failed when it
  # does not fit even after evicting idle models, naming what holds memory).
  # A ready reply holds the model for the asker (ModelInfo.reservation): it is
  # neither evicted nor unloaded for idleness until the Submit that names the
  # reservation arrives, a releaseModel names it, or the asker's service exits.
  name @0 :Text;
  keepAlive @1 :Text;        # as Submit.keepAlive; empty = the kernel's default
}

struct ReleaseModel {
  # io -> kernel: the request an ensureModel reserved the model for ended
  # without submitting (or io no longer needs the hold). No reply; a
  # reservation already consumed or released is ignored.
  reservation @0 :UInt64;
}

struct LoadProgress {
  name @0 :Text;
  phase @1 :Text;            # "validating", "mapping", "uploading", "starting"
  done @2 :UInt64;
  total @3 :UInt64;          # 0 = unknown
}

struct UnloadModel {
  # client -> kernel. Drains the model's admitted requests first. Reply:
  # `modelInfo` (state unloaded) or `errorReply` (notFound).
  name @0 :Text;
}

struct ListModels {
  # client -> kernel. Reply: `modelList`.
}

struct ModelList {
  models @0 :List(ModelInfo);
}

struct ModelInfo {
  name @0 :Text;
  path @1 :Text;
  state @2 :ModelState;
  failure @3 :Text;          # state failed: why
  device @4 :Device;
  ctx @5 :UInt32;
  threads @6 :UInt32;
  weightsBytes @7 :UInt64;
  kvBytes @8 :UInt64;
  activeSequences @9 :UInt32;
  queuedSequences @10 :UInt32;
  tokensPerSecond @11 :Float32;
  servicePid @12 :UInt32;    # 0 when no service runs
  vocabSize @13 :UInt32;
  kvBlocksUsed @14 :UInt32;  # from the model service's heartbeats
  kvBlocksTotal @15 :UInt32;
  loadedUnixMs @16 :UInt64;  # when the load was asked for
  lastUseUnixMs @17 :UInt64; # when its last request ended (or it became ready)
  expiresUnixMs @18 :UInt64; # when it unloads if nothing uses it; 0 = not while busy, or kept forever
  keepAliveMs @19 :Int64;    # its idle keep-alive; -1 = forever
  chatTemplateFile @20 :Text; # as loaded (LoadModel.chatTemplateFile); empty = the model's own
  reservation @21 :UInt64;   # ensureModel replies: the hold on the model for the asker; 0 = none
}

struct ListServices {
  # client -> kernel. Reply: `serviceList`.
}

struct ServiceList {
  services @0 :List(ServiceInfo);
}

struct ServiceInfo {
  name @0 :Text;
  kind @1 :ServiceKind;
  pid @2 :UInt32;            # 0 when not running
  state @3 :ServiceState;
  uptimeMs @4 :UInt64;
  restarts @5 :UInt32;
  lastExit @6 :Text;         # "exit code 1", "killed by signal 9", ...
}

struct GetStats {
  # client -> kernel. Reply: `stats`.
}

struct Stats {
  uptimeMs @0 :UInt64;
  memoryBudgetBytes @1 :UInt64;
  memoryReservedBytes @2 :UInt64;
  requestsAdmitted @3 :UInt64;
  requestsCompleted @4 :UInt64;
  requestsCancelled @5 :UInt64;
  requestsFailed @6 :UInt64;
  requestsRejected @7 :UInt64;
  promptTokens @8 :UInt64;
  generatedTokens @9 :UInt64;
  queued @10 :UInt32;
  running @11 :UInt32;
  preemptions @12 :UInt64;   # by the kernel, and by model services' engines (KV blocks ran out)
  redispatches @13 :UInt64;
  serviceRestarts @14 :UInt64;
  kvBlocksUsed @15 :UInt64;
  kvBlocksTotal @16 :UInt64;
  # Summed over the model services' heartbeats (see Heartbeat), in EngineCounter order.
  engineCounters @17 :List(UInt64);
}

struct Shutdown {
  # client -> kernel (`llmos down`): stop every service, then exit. Reply: `ack`
  # before the kernel starts stopping.
}

# ---------------------------------------------------------------------------
# Generation

struct Generate {
  # client -> io: generate from text. Replies: a stream of `textEvent`, the last
  # with done = true (errors arrive as a final textEvent with `error` set).
  model @0 :Text;
  prompt @1 :Text;
  sampling @2 :SamplingParams;
  priority @3 :Priority;
  session @4 :Text;          # continue this saved session (empty: none)
  saveSession @5 :Text;      # save the conversation under this name when done
  keepAlive @6 :Text;        # as Submit.keepAlive (Ollama's keep_alive); empty = unchanged
}

struct TextEvent {
  # io -> client.
  text @0 :Text;             # the new text (whole UTF-8 characters only)
  ids @1 :List(UInt32);      # the new token ids
  done @2 :Bool;
  finishReason @3 :FinishReason;
  error @4 :Error;           # set when finishReason = error
  promptTokens @5 :UInt32;
  generatedTokens @6 :UInt32;
}

struct Submit {
  # io -> kernel: admit a tokenized request. Reply: `admitted`, or
  # `errorReply` (unknown model: notFound; queue full: overloaded; prompt
  # longer than the context or bad sampling values: invalidArgument). Tokens
  # then flow straight from the model service to the io service as TokenEvents.
  model @0 :Text;
  promptIds @1 :List(UInt32);
  sampling @2 :SamplingParams;
  priority @3 :Priority;
  generatedIds @4 :List(UInt32);
  # Tokens already generated (and streamed) for this request: empty for a new
  # request; set when a request is re-dispatched after a model service crash.
  # The model service continues after them without streaming them again.
  keepAlive @5 :Text;
  # The model's keep-alive from now on (Ollama's keep_alive: "5m", "30", "0",
  # "-1" = forever); empty = unchanged.
  reservation @6 :UInt64;
  # The ensureModel reservation this request was made under (0 = none): the
  # kernel releases it once the request is admitted or refused.
}

struct Admitted {
  # kernel -> io, reply to `submit`.
  model @0 :Text;
  queuedAhead @1 :UInt32;    # requests queued before this one
}

struct Cancel {
  # io -> kernel (client pressed Ctrl-C or went away), kernel -> model.
  # No reply; the request ends with a TokenEvent (finishReason cancelled).
  reason @0 :Text;
}

struct Dispatch {
  # kernel -> model service: start (or resume) a sequence.
  request @0 :Submit;        # prompt, sampling, and the tokens generated so far
  swappedOut @1 :Bool;       # its KV blocks are in the memory service: SwapIn
                             # them instead of recomputing the prompt
  tokenEndpoint @2 :Text;    # where to PUSH its TokenEvents
}

struct Preempt {
  # kernel -> model service: stop running this sequence for now (an
  # interactive request needs its place). Reply: `preempted`, unless the
  # sequence ended first. The kernel re-dispatches it later with swappedOut.
  swapOut @0 :Bool;          # save its KV blocks to the memory service first
}

struct Preempted {
  committedTokens @0 :UInt32;   # prompt + generated tokens whose KV was kept
  swappedOut @1 :Bool;
  generatedIds @2 :List(UInt32);  # all tokens generated so far
}

struct TokenEvent {
  # model -> io, one or more new tokens of a sequence. The last one has
  # done = true and is also sent to the kernel, which then retires the request.
  ids @0 :List(UInt32);
  offset @1 :UInt32;         # index among the generated tokens of ids[0]; after
                             # a re-dispatch the io service drops ids it already has
  done @2 :Bool;
  finishReason @3 :FinishReason;
  error @4 :Error;           # set when finishReason = error
  promptTokens @5 :UInt32;
}

# ---------------------------------------------------------------------------
# Memory service: second tier of KV memory, and saved sessions.

struct KvShape {
  # The layout of one KV block, so the memory service can check what it stores:
  # a block holds [layers][2 (K, V)][blockSize][kvHeads * headDim] of `dtype`,
  # over the layers but the window layers.
  layers @0 :UInt32;
  kvHeads @1 :UInt32;
  headDim @2 :UInt32;
  blockSize @3 :UInt32;      # tokens per block
  dtype @4 :Text;            # "f16", "f32", ...
  bytesPerBlock @5 :UInt64;  # over the layers that are not window layers
  windowLayers @6 :List(UInt32);  # sliding-window layers with planes of their
                                  # own (not in a block); empty: none
}

struct ArenaBlocks {
  # Blocks that stay in a shared-memory KV arena; the memory service copies them.
  shmName @0 :Text;
  blockIds @1 :List(UInt32);
}

struct KvSnapshot {
  # The KV state of one sequence. Also the reply to `swapIn` and `restoreSession`.
  model @0 :Text;
  tokenIds @1 :List(UInt32); # the tokens the KV covers (prompt + generated)
  shape @2 :KvShape;
  data :union {
    inline @3 :List(Data);   # one element per block, bytesPerBlock each
    arena @4 :ArenaBlocks;
  }
}

struct SwapOut {
  # model -> memory: keep the KV of sequence `requestId`. Reply: `ack`, or
  # `errorReply` (overloaded: the memory cap is reached).
  snapshot @0 :KvSnapshot;
}

struct SwapIn {
  # model -> memory: return the KV of sequence `requestId`. Reply: `kvSnapshot`
  # or `errorReply` (notFound).
  release @0 :Bool;          # forget it after sending
}

struct SwapDrop {
  # kernel/model -> memory: the sequence finished; free its KV. Reply: `ack`.
}

struct SaveSession {
  # io/model -> memory. Reply: `ack` or `errorReply` (overloaded: cap reached).
  name @0 :Text;
  snapshot @1 :KvSnapshot;
}

struct RestoreSession {
  # -> memory. Reply: `kvSnapshot` or `errorReply` (notFound).
  name @0 :Text;
}

struct DeleteSession {
  # -> memory. Reply: `ack` or `errorReply` (notFound).
  name @0 :Text;
}

struct ListSessions {
  # -> memory. Reply: `sessionList`.
}

struct SessionList {
  sessions @0 :List(SessionInfo);
}

struct SessionInfo {
  name @0 :Text;
  model @1 :Text;
  tokens @2 :UInt32;
  bytes @3 :UInt64;
  savedUnixMs @4 :UInt64;
}
