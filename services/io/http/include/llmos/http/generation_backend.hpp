// GenerationBackend: what the HTTP API needs from the rest of the system (model
// list, tokenization, generation, administration, statistics). LocalBackend
// implements it in-process (`llmos serve --local`); IpcBackend in llmos-io
// (services/io/server) over the running system.
// Implementations are thread-safe. Synchronous calls answer from local state
// and never block on another process; callbacks run on a backend thread.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/domain/engine_counters.hpp"
#include "llmos/domain/finish_reason.hpp"
#include "llmos/domain/model_state.hpp"
#include "llmos/domain/priority.hpp"
#include "llmos/domain/sampling.hpp"

namespace llmos::http {

struct ModelInfo {
  std::string name;
  std::string path;
  ModelState state = ModelState::kLoading;
  std::string device;          // "cpu", "cuda"
  uint64_t memory_bytes = 0;   // weights + activations + KV cache
  int context_length = 0;      // per-sequence context in tokens
  int64_t created = 0;         // unix seconds when the load began
  std::string error;           // why, when state == kFailed
  uint64_t last_use_unix_ms = 0;  // its last request ended (or it became ready); 0 = unknown
  uint64_t expires_unix_ms = 0;   // it unloads then if unused; 0 = not while busy, or kept forever
  int64_t keep_alive_ms = -1;     // its idle keep-alive; -1 = forever (never unloaded for idleness)
};

class ChatTemplate;  // chat_template.hpp

// What a prompt needs besides the tokenizer: the chat template text (the GGUF
// key tokenizer.chat_template, or the --chat-template-file; "" when absent),
// the BOS/EOS texts, and the template parsed once at load: null when there is
// none or it cannot be rendered (then chat_template_error says why, naming the
// construct and line; plain completions still work).
struct PromptInfo {
  std::string chat_template;
  std::string bos_text;
  std::string eos_text;
  std::shared_ptr<const ChatTemplate> chat;
  std::string chat_template_error;
};

// A run of prompt text. parse_special: control-token texts in it
// ("<|im_start|>", "<s>") become those tokens (template text); otherwise they
// stay ordinary text (what a user wrote). Adjacent pieces are tokenized as one
// text, so splitting a prompt into pieces never changes its ordinary tokens.
struct PromptPiece {
  std::string text;
  bool parse_special = false;
};

struct GenerationParams {
  std::string model;
  std::vector<int32_t> prompt;     // token ids, BOS included when wanted
  SamplingParams sampling;         // llama.cpp's defaults
  int max_tokens = 16;             // > 0
  std::vector<std::string> stop;   // text ends before the first of these
  Priority priority = Priority::kInteractive;
  std::string keep_alive;          // the model's keep-alive from now on (Ollama's); "" = unchanged
  uint64_t reservation = 0;        // EnsuredModel::reservation this request was routed under; 0 = none
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

// One streamed piece of a generation. Text never contains (a prefix of) a
// stop string that may still complete; the last event has done = true.
struct GenerationEvent {
  std::string text;             // new text, may be empty
  int32_t token = -1;           // the token that produced it; -1 on a done-only event
  bool done = false;
  FinishReason finish = FinishReason::kStop;  // when done
  Usage usage;                  // when done
  Status error;                 // when done and finish == kError
};

// Called once per event on a backend thread; must not block. After the done
// event it is never called again (and is destroyed).
using GenerationCallback = std::function<void(GenerationEvent&&)>;
using GenerationHandle = uint64_t;

struct LoadParams {
  std::string path;
  std::string name;  // "" = the file's stem
  int ctx = 0;       // 0 = the model's
  int threads = 0;   // CPU threads; 0 = automatic
  std::string device = "auto";  // "cpu", "cuda" or "auto" (CUDA when a GPU answers, else the CPU)
  std::string chat_template_file;  // "" = the model's own tokenizer.chat_template
};

struct ModelStats {
  std::string name;
  int queued = 0;              // waiting for a sequence slot
  int running = 0;             // sequences holding KV blocks
  int kv_blocks_used = 0;
  int kv_blocks_free = 0;
  uint64_t memory_bytes = 0;
  ModelState state = ModelState::kReady;
  uint64_t last_use_unix_ms = 0;  // as ModelInfo
  uint64_t expires_unix_ms = 0;
  EngineCounters engine;       // of its engine (in-process backends only)
};

struct BackendStats {
  std::vector<ModelStats> models;
  uint64_t service_restarts = 0;
  EngineCounters engine;       // over every model (and model service) so far
};

// A model ensure_model made ready: its name, and the reservation that holds it
// for the request (0 = none: the backend does not evict).
struct EnsuredModel {
  std::string name;
  uint64_t reservation = 0;
};

class GenerationBackend {
 public:
  virtual ~GenerationBackend() = default;

  // disconnected when the system does not answer.
  virtual Result<std::vector<ModelInfo>> list_models() = 0;
  // not_found for an unknown model; the model need not be ready.
  virtual Result<PromptInfo> prompt_info(std::string_view model) = 0;
  // Prompt text to token ids, SentencePiece-style (see PromptPiece). With
  // add_bos, BOS comes first when the model's vocabulary wants one
  // (tokenizer.ggml.add_bos_token) and the pieces do not already start with it.
  // not_found for an unknown model, disconnected when it is not loaded yet.
  virtual Result<std::vector<int32_t>> tokenize(std::string_view model, std::span<const PromptPiece> pieces,
                                                bool add_bos) = 0;

  // Queues a generation. Errors now: not_found (model), disconnected (model
  // not ready, or the system is gone), invalid_argument (prompt too long, bad
  // sampling values), overloaded (queue full). Later failures arrive as a done
  // event with finish == kError.
  virtual Result<GenerationHandle> submit(GenerationParams params, GenerationCallback on_event) = 0;
  // Ends a generation soon; its done event (finish == kCancelled) still comes.
  // Unknown or finished handles are ignored.
  virtual void cancel(GenerationHandle handle) = 0;

  // Asynchronous administration: `done` runs on a backend thread when the
  // model is ready (or failed) / unloaded (after draining its requests).
  virtual void load_model(LoadParams params, std::function<void(Status)> done) = 0;
  virtual void unload_model(std::string name, std::function<void(Status)> done) = 0;
  // Load on demand: `done` gets the name the model is ready under ("tiny" may
  // be the stored "tiny:latest") once it is loaded, loading it from the model
  // store when it is not; requests for a model that is loading wait for that
  // load. `keep_alive` "" = the system's default. A backend without a store
  // (loads_on_demand() false) answers not_found.
  // The model is reserved for the asker (neither evicted nor unloaded for
  // idleness) until a submit names the reservation (GenerationParams) or
  // release_model gives it up; the asker does one or the other, and may do
  // both (a second release of one reservation is ignored).
  virtual bool loads_on_demand() const { return false; }
  virtual void ensure_model(std::string name, std::string keep_alive,
                            std::function<void(Result<EnsuredModel>)> done) {
    (void)keep_alive;
    done(not_found("model '" + name + "' not found; GET /v1/models lists the loaded models"));
  }
  virtual void release_model(uint64_t reservation) { (void)reservation; }

  // disconnected when the system does not answer.
  virtual Result<BackendStats> stats() = 0;
};

}  // namespace llmos::http
