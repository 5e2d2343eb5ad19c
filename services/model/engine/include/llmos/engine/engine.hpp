// The continuous-batching engine: sequences join and leave between steps; each
// step is schedule -> forward -> sample -> emit. The BatchScheduler decides
// (which sequences compute how many tokens, preemption, swap, prefix reuse,
// adoption of KV a previous engine left); the Engine executes its plan: the
// swap copies, the model's forward step, a Sampler per sequence, TokenEvents.
// With a journal, each running sequence's committed KV is recorded every step.
// Owned and driven by one thread.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/domain/engine_counters.hpp"
#include "llmos/domain/finish_reason.hpp"
#include "llmos/engine/batch_scheduler.hpp"
#include "llmos/engine/kv_cache.hpp"
#include "llmos/engine/kv_journal.hpp"
#include "llmos/engine/kv_swap.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/engine/prefix_cache.hpp"
#include "llmos/engine/sampler.hpp"

namespace llmos::engine {

struct EngineOptions {
  int max_seqs = 16;        // sequences decoding at once
  int ctx_len = 0;          // per-sequence context limit; 0 = the model's
  int kv_tokens = 0;        // KV capacity in tokens over all sequences; 0 = ctx_len
  DType kv_type = DType::kF16;
  int block_size = kDefaultBlockSize;
  bool prefix_cache = true;  // keep the full KV blocks of finished sequences for reuse
};

struct GenerationRequest {
  uint64_t id = 0;
  std::vector<int32_t> prompt;  // token ids, BOS included when wanted
  SamplingParams sampling;  // llama.cpp's defaults (temperature 0.8); temperature 0 is greedy
  int max_tokens = 128;
  std::vector<int32_t> stop_ids;  // generation ends (not emitting it) at any of these
  // Tokens this request already generated elsewhere (a request resumed after
  // its model service died). They follow the prompt, count against max_tokens
  // and advance the sampler as if drawn here, so a greedy or seeded request
  // continues with exactly the tokens an undisturbed run gives. Not re-emitted.
  std::vector<int32_t> generated;
  // Set when the request was preempted by preempt() here and comes back: the
  // KV it left in the swap space is loaded instead of recomputed.
  bool resume_swapped = false;
};

// FinishReason (domain/finish_reason.hpp): kPreempted means preempt() took the
// request off this engine before its end; it comes back as a resumed request.
// The engine never ends a request with kError.

// One new token of a request, or its end. token is -1 on an event that only
// reports the end (a stop token, cancellation).
struct TokenEvent {
  uint64_t request_id = 0;
  int32_t token = -1;
  bool done = false;
  FinishReason reason = FinishReason::kNone;
  int kv_kept = 0;  // kPreempted: tokens whose KV went to the swap space (0: none kept)
};

struct EngineStats {
  int running = 0;        // sequences holding KV blocks
  int waiting = 0;        // admitted, not yet started (or preempted)
  int kv_blocks_used = 0;   // held by sequences (not counting blocks only the prefix cache holds)
  int kv_blocks_total = 0;
  int retained = 0;                // sequences of KV left by a previous engine, not yet claimed
  int prefix_cached_blocks = 0;    // blocks the prefix cache holds (some also used by running sequences)
  // The sliding-window layers' own blocks (a model with a sliding window; 0 otherwise).
  int kv_window_blocks_used = 0;
  int kv_window_blocks_total = 0;
  EngineCounters counters;         // cumulative: preemptions, swaps, adoption, prefix cache (domain table)
};

class Engine {
 public:
  // REQUIRES: `model` outlives the engine.
  static Result<std::unique_ptr<Engine>> create(Model& model, const EngineOptions& options);
  // Uses `kv` (e.g. borrowed from a shared arena) instead of allocating one.
  static Result<std::unique_ptr<Engine>> create(Model& model, const EngineOptions& options,
                                                std::unique_ptr<KvCache> kv);

  // Preempted sequences keep their KV in `swap` from now on. REQUIRES: no
  // step has run yet.
  void set_swap_space(std::unique_ptr<KvSwapSpace> swap);
  // Records every running sequence's committed KV in `journal` from now on.
  // REQUIRES: no step has run yet.
  void set_journal(std::unique_ptr<KvJournal> journal);
  // Takes the blocks of the KV `left` by a previous engine in this engine's KV
  // memory (a model service that died). When a request of one of these ids is
  // submitted, it adopts the KV of the tokens it shares with the entry and
  // computes only the rest; unclaimed entries give their blocks back when
  // blocks run short or on release_retained(). Entries that are inconsistent
  // (a block out of range or claimed twice other than as the same full block
  // of a shared prefix, a count that does not match) are
  // refused and forgotten. Returns the ids of those it kept. REQUIRES:
  // nothing was submitted yet.
  std::vector<uint64_t> retain(std::vector<RetainedKv> left);
  void release_retained();

  // Queues a request; invalid_argument when the prompt is empty, holds an id
  // outside the vocabulary, or does not fit the context; or bad sampling values.
  Status submit(GenerationRequest request);
  // Ends a request at the next step boundary with FinishReason::kCancelled.
  // Also drops the swapped-out KV of a request preempt() took off.
  void cancel(uint64_t request_id);
  // Takes a request off this engine at the next step boundary (the kernel
  // gives its place to a request of a higher priority class): its KV goes to
  // the swap space (and its full blocks to the prefix cache), and it ends with
  // FinishReason::kPreempted and kv_kept. Submitted again with
  // resume_swapped and its generated tokens, it continues from there.
  void preempt(uint64_t request_id);
  // Runs one step and appends what happened to `events`.
  void step(std::vector<TokenEvent>& events);
  bool has_work() const { return scheduler_.has_work(); }

  EngineStats stats() const;
  const EngineOptions& options() const { return options_; }
  // The KV cache's layout (its bytes: kv_layout().bytes()).
  const KvGeometry& kv_layout() const { return kv_->layout(); }
  Model& model() { return model_; }

 private:
  // What the engine keeps of a request the scheduler holds (by Sequence::tag()).
  struct Generation {
    Sampler sampler;
    std::vector<int32_t> stop_ids;
    int max_tokens = 0;
  };
  Engine(Model& model, const EngineOptions& options, std::unique_ptr<KvCache> kv);
  void run_swaps(const StepPlan& plan, std::vector<TokenEvent>& events);  // and the ends it decided
  void forward(const StepPlan& plan);
  void sample_and_emit(const StepPlan& plan, std::vector<TokenEvent>& events);
  uint32_t keep(Generation g);  // its tag
  void forget(uint32_t tag);

  Model& model_;
  EngineOptions options_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<KvSwapSpace> swap_;  // null: preempted sequences are recomputed
  BatchScheduler scheduler_;
  std::vector<std::optional<Generation>> generations_;  // by tag; empty slots are in free_tags_
  std::vector<uint32_t> free_tags_;

  // Forward-step buffers, sized at creation (the hot path allocates nothing):
  int max_blocks_ = 0;
  std::vector<int32_t> token_ids_, positions_, seq_index_, kv_slots_;  // [max_batch_tokens]
  std::vector<int32_t> block_tables_;                                  // [max_seqs][max_blocks_]
  // The sliding-window layers' slots and tables (empty without a window).
  std::vector<int32_t> window_kv_slots_;                               // [max_batch_tokens]
  std::vector<int32_t> window_block_tables_;                           // [max_seqs][max_blocks_]
  std::vector<int32_t> output_rows_;                                   // [max_seqs]
  std::vector<float> logits_;                                          // [max_seqs][n_vocab]
};

}  // namespace llmos::engine
