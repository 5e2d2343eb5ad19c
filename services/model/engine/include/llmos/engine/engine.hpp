// The continuous-batching engine: sequences join and leave between steps; each
// step is schedule -> forward -> sample -> emit. Decoding sequences take one
// token each, the rest of the step's token budget goes to prompt chunks.
// When KV blocks run out, the most recently admitted sequence is preempted: its
// KV goes to the swap space when there is one (else it is later recomputed from
// its tokens). With a journal, each running sequence's committed KV is recorded
// every step, and an engine that replaces a dead one adopts what it left.
// With the prefix cache (on by default), the full KV blocks of a sequence that
// leaves stay cached, and a new sequence whose prompt begins with the same
// tokens shares them instead of computing that KV again.
// Owned and driven by one thread.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/domain/engine_counters.hpp"
#include "llmos/domain/finish_reason.hpp"
#include "llmos/engine/kv_cache.hpp"
#include "llmos/engine/kv_journal.hpp"
#include "llmos/engine/kv_swap.hpp"
#include "llmos/engine/llama_model.hpp"
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
  uint64_t preemptions = 0;
  uint64_t swaps_out = 0;         // preempted sequences whose KV went to the swap space
  uint64_t swaps_in = 0;          // resumed sequences that got their KV back
  uint64_t swap_fallbacks = 0;    // swap-outs refused and swap-ins failed: recomputed instead
  uint64_t tokens_swapped_in = 0;
  uint64_t tokens_recomputed = 0;  // tokens computed again because their KV was dropped
  uint64_t sequences_adopted = 0;  // resumed requests that adopted KV a previous engine left
  uint64_t tokens_adopted = 0;
  int retained = 0;                // sequences of KV left by a previous engine, not yet claimed
  uint64_t prefix_hits = 0;        // admitted sequences that shared KV blocks from the prefix cache
  uint64_t tokens_from_prefix = 0; // prompt tokens whose KV came from the prefix cache
  int prefix_cached_blocks = 0;    // blocks the prefix cache holds (some also used by running sequences)

  // The cumulative counters above as the shared table (what hosts report).
  EngineCounters counters() const;
};

class Engine {
 public:
  // REQUIRES: `model` outlives the engine.
  static Result<std::unique_ptr<Engine>> create(LlamaModel& model, const EngineOptions& options);
  // Uses `kv` (e.g. borrowed from a shared arena) instead of allocating one.
  static Result<std::unique_ptr<Engine>> create(LlamaModel& model, const EngineOptions& options,
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
  bool has_work() const {
    return !running_.empty() || !waiting_.empty() || !cancelled_.empty() || !preempting_.empty();
  }

  EngineStats stats() const;
  const EngineOptions& options() const { return options_; }
  LlamaModel& model() { return model_; }

 private:
  struct Sequence {
    GenerationRequest req;
    std::vector<int32_t> tokens;  // prompt + generated
    int n_cached = 0;             // tokens whose K/V are in the cache
    int n_generated = 0;
    int n_swapped = 0;            // tokens whose KV waits in the swap space
    int n_dropped = 0;            // tokens whose KV the last preemption dropped
    bool finished = false;
    BlockTable blocks;
    Sampler sampler;
  };
  Engine(LlamaModel& model, const EngineOptions& options, std::unique_ptr<KvCache> kv);
  bool preempt_one(const Sequence* keep);
  void take_off(std::unique_ptr<Sequence>& seq, std::vector<TokenEvent>& events);  // preempt()
  void swap_in(Sequence& s);
  // Gives its blocks back (journal first); with `keep`, its full blocks stay
  // in the prefix cache.
  void release_kv(Sequence& s, bool keep = true);
  void reuse_prefix(Sequence& s);  // shares cached blocks of its prompt's prefix
  bool reclaim();                  // frees blocks nobody runs on: retained KV, then cached prefixes
  bool adopt(std::unique_ptr<Sequence>& seq);
  bool evict_retained();
  void finish(std::unique_ptr<Sequence>& seq, FinishReason reason, std::vector<TokenEvent>& events);

  LlamaModel& model_;
  EngineOptions options_;
  std::unique_ptr<KvCache> kv_;
  KvBlockPool pool_;
  std::vector<std::unique_ptr<Sequence>> running_;  // in admission order
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<uint64_t> cancelled_;
  std::vector<uint64_t> preempting_;          // preempt() requests for the next step
  std::unordered_map<uint64_t, int> parked_;  // taken off by preempt(): tokens whose KV waits in swap_
  std::unique_ptr<KvSwapSpace> swap_;  // null: preempted sequences are recomputed
  std::unique_ptr<KvJournal> journal_;  // null: nothing is recorded
  std::vector<RetainedKv> retained_;    // left by a previous engine, blocks taken from pool_
  std::unique_ptr<PrefixCache> prefix_;  // null: the prefix cache is off
  EngineStats counts_;                 // the cumulative counters of stats()

  // Step scratch, sized at creation (the hot path allocates nothing):
  int max_blocks_ = 0;
  std::vector<int32_t> token_ids_, positions_, seq_index_, kv_slots_;  // [max_batch_tokens]
  std::vector<int32_t> block_tables_;                                  // [max_seqs][max_blocks_]
  std::vector<int32_t> output_rows_;                                   // [max_seqs]
  std::vector<Sequence*> output_seqs_;                                 // [max_seqs]
  std::vector<Sequence*> step_seqs_;                                   // [max_seqs]
  std::vector<int> step_chunks_;                                       // [max_seqs] tokens per step_seqs_ entry
  std::vector<float> logits_;                                          // [max_seqs][n_vocab]
};

}  // namespace llmos::engine
