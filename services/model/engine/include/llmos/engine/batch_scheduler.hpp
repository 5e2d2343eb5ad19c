// BatchScheduler: the deciding half of the continuous-batching engine. It owns
// the sequences (each in an explicit SequenceState), their block tables, the
// KvBlockPool, the prefix cache, KV retained from a previous engine and the KV
// journal; each step it writes a StepPlan (who computes how many tokens, which
// rows need logits, who swaps out or in, who ended) that the Engine executes
// and reports back on. Knows no model and no driver. Owned and driven by one
// thread; the Sequence pointers of a plan stay valid until end_step().
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "llmos/domain/engine_counters.hpp"
#include "llmos/engine/kv_block_pool.hpp"
#include "llmos/engine/kv_journal.hpp"
#include "llmos/engine/prefix_cache.hpp"

namespace llmos::engine {

enum class SequenceState : uint8_t {
  kWaiting,     // queued; no KV computed here yet (a resumed request's KV is recomputed)
  kPrefilling,  // running; more than one of its tokens lacks KV (prompt chunks)
  kDecoding,    // running; only its last token lacks KV: one token a step
  kSwapped,     // preempted, queued; its KV waits in the swap space
  kDropped,     // preempted, queued; its KV was dropped and is recomputed from its tokens
  kParked,      // taken off by preempt(); its KV waits in the swap space for the request to return
  kFinished,    // ended; forgotten at the end of the step
};

struct SchedulerOptions {
  int max_seqs = 16;           // sequences running at once
  int ctx_len = 0;             // per-sequence context limit, in tokens
  int block_size = kDefaultBlockSize;
  int n_blocks = 0;            // KV blocks in the pool
  int max_batch_tokens = 512;  // tokens one step computes (decodes + prompt chunks)
  bool prefix_cache = true;    // keep the full blocks of sequences that leave for reuse
  bool swap_space = false;     // a swap space exists: preempted KV is swapped out, not dropped
  // Sliding-window layers (gemma3's local ones): their KV has its own blocks
  // from a pool of n_window_blocks, and a sequence holds only those covering
  // its last `window` positions (at least min_window_blocks; a prompt chunk
  // is shortened to the free ones). 0: the model has none. With a window, the
  // prefix cache, swapping and retained KV are off (see docs/engine.md).
  int window = 0;
  int n_window_blocks = 0;
};

// One request as the scheduler holds it: its tokens, how many have KV, and
// its blocks. Changed only by the scheduler; the Engine reads it.
class Sequence {
 public:
  uint64_t id() const { return id_; }
  uint32_t tag() const { return tag_; }  // the Engine's handle for its own state of the request
  SequenceState state() const { return state_; }
  std::span<const int32_t> tokens() const { return tokens_; }  // prompt + generated
  int n_cached() const { return n_cached_; }  // tokens whose KV is in the cache
  int n_generated() const { return n_generated_; }
  const BlockTable& blocks() const { return blocks_; }
  // The sliding-window layers' blocks (options().window > 0; empty otherwise):
  // entries before the window are -1, given back to window_pool().
  const BlockTable& window_blocks() const { return window_blocks_; }

 private:
  friend class BatchScheduler;
  Sequence(uint64_t id, uint32_t tag, int block_size)
      : id_(id), tag_(tag), blocks_(block_size), window_blocks_(block_size) {}
  uint64_t id_;
  uint32_t tag_;
  SequenceState state_ = SequenceState::kWaiting;
  std::vector<int32_t> tokens_;
  int n_cached_ = 0;
  int n_generated_ = 0;
  int n_swapped_ = 0;  // tokens whose KV waits in the swap space
  int n_dropped_ = 0;  // tokens whose KV a preemption dropped: counted when computed again
  uint64_t preempted_at_ = 0;  // the step that last preempted it
  BlockTable blocks_;
  BlockTable window_blocks_;
};

// A step's decisions. Buffers are sized at creation; the hot path allocates
// nothing (the growing ones grow only past max_seqs cancellations or
// take-offs in one step).
struct StepPlan {
  struct Chunk {
    Sequence* seq;
    int n_tokens;       // its tokens [n_cached, n_cached + n_tokens) are computed
    bool wants_logits;  // the chunk ends at its last token: sample its next one
  };
  struct SwapOut {
    Sequence* seq;
    int n_tokens;        // the first n_tokens of seq->tokens(), whose KV is in blocks(*this)
    int first_block = 0;  // in swap_out_blocks
    int n_blocks = 0;
    int ended = -1;      // index in `ended` when taken off by preempt()
  };
  struct SwapIn {
    Sequence* seq;  // its KV goes into the first blocks of seq->blocks(); it computes from the next step
    int n_tokens;
  };
  struct Ended {
    uint64_t id;
    uint32_t tag;
    bool taken_off;   // preempt(); else cancelled
    int kv_kept = 0;  // taken off: tokens whose KV is in the swap space
  };
  std::vector<Chunk> chunks;           // [max_seqs] in batch order: decodes, then prompt chunks
  int n_tokens = 0;                    // sum of chunks' n_tokens (<= max_batch_tokens)
  int n_outputs = 0;                   // chunks that want logits
  std::vector<SwapOut> swap_outs;      // [max_seqs] run before the swap-ins and the forward step
  std::vector<int32_t> swap_out_blocks;  // [max_seqs][max_blocks] (grows) the blocks swap_outs[] had
  std::vector<SwapIn> swap_ins;        // [max_seqs]
  std::vector<uint64_t> preempted;     // [max_seqs] ids preempted for blocks, newest first
  std::vector<Ended> ended;            // [max_seqs] (grows) in event order
  std::vector<uint64_t> dropped_swaps;  // [max_seqs] (grows) ids whose swapped-out KV is to be dropped

  // The blocks holding the KV `op` saves. They are released already (others
  // may get them this step): the swap-outs run before anything writes.
  std::span<const int32_t> blocks(const SwapOut& op) const {
    return std::span(swap_out_blocks).subspan(size_t(op.first_block), size_t(op.n_blocks));
  }
};

// Window-pool blocks one sequence may hold at once: its window and one step's
// tokens, plus the block the window starts in part-way.
int max_window_blocks(const SchedulerOptions& options);
// Window-pool blocks one sequence needs to decode (its window, the block the
// window starts in part-way: kv_window_blocks_per_sequence), at most its
// context's: the least n_window_blocks may be. A smaller pool than
// max_window_blocks per sequence only shortens prompt chunks to what is free.
int min_window_blocks(const SchedulerOptions& options);

class BatchScheduler {
 public:
  // REQUIRES: ctx_len >= 2, block_size > 0, n_blocks * block_size >= ctx_len, max_seqs > 0.
  explicit BatchScheduler(const SchedulerOptions& options);

  // Records every running sequence's committed KV in `journal` from now on.
  void set_journal(std::unique_ptr<KvJournal> journal) { journal_ = std::move(journal); }
  void set_swap_space(bool present) { options_.swap_space = present; }

  // Queues a request: its prompt and the tokens it generated elsewhere (a
  // resumed request, whose KV is not here). With `resume_swapped`
  // and the KV it left when taken off, that KV is swapped in rather than
  // recomputed; a request of the id of retained KV adopts it. Returns true
  // when the swap space may hold stale KV of this id, which is to be dropped.
  // REQUIRES: 0 < prompt.size() + generated.size() < ctx_len.
  bool add(uint64_t id, uint32_t tag, std::span<const int32_t> prompt, std::span<const int32_t> generated,
           bool resume_swapped);
  // Take effect at the next schedule(): cancel ends the request (and drops
  // its swapped-out KV when taken off); take_off parks it with its KV swapped out.
  void cancel(uint64_t id) { cancelling_.push_back(id); }
  void take_off(uint64_t id) { taking_off_.push_back(id); }

  // Takes the blocks of KV a previous engine left; see Engine::retain.
  std::vector<uint64_t> retain(std::vector<RetainedKv> left);
  void release_retained();

  // Decides the next step. The plan is valid until the next call.
  const StepPlan& schedule();
  // The Engine's reports on the plan, in this order: the swap-outs it ran,
  // then the swap-ins, then computed() after the forward step, then per
  // sequence that wanted logits append() and/or finish(), then end_step().
  void swapped_out(const StepPlan::SwapOut& op, bool ok);
  void swapped_in(const StepPlan::SwapIn& op, bool ok);
  void computed();
  void append(Sequence& seq, int32_t token);
  void finish(Sequence& seq);
  void end_step();

  bool has_work() const {
    return !running_.empty() || !waiting_.empty() || !cancelling_.empty() || !taking_off_.empty();
  }
  int n_running() const { return int(running_.size()); }
  int n_waiting() const { return int(waiting_.size()); }
  int n_retained() const { return int(retained_.size()); }
  int n_prefix_cached() const { return prefix_ ? prefix_->size() : 0; }
  const KvBlockPool& pool() const { return pool_; }
  const KvBlockPool& window_pool() const { return window_pool_; }  // empty without a window
  const EngineCounters& counters() const { return counts_; }  // all of them: the scheduler counts each
  const SchedulerOptions& options() const { return options_; }
  // The sequence of `id` the scheduler holds (running, queued or parked); null when none.
  const Sequence* find(uint64_t id) const;

 private:
  using SequencePtr = std::unique_ptr<Sequence>;
  void end(SequencePtr& seq, bool taken_off);  // cancel or take off, between steps
  void plan_swap_out(Sequence& s, int ended);
  bool preempt_newest(const Sequence* keep);
  bool schedule_prompt(Sequence& s);
  void add_chunk(Sequence& s, int n_tokens);
  void release_kv(Sequence& s, bool keep_prefix);
  // Blocks for positions [0, n_tokens) in every table the sequence has; false
  // (keeping what it got) when a pool runs out.
  bool reserve_kv(Sequence& s, int n_tokens);
  int kv_capacity(const Sequence& s) const;  // positions every table of it has blocks for
  bool can_swap() const { return options_.swap_space && options_.window == 0; }
  void reuse_prefix(Sequence& s);
  bool reclaim();  // frees blocks nobody runs on: retained KV, then cached prefixes
  bool evict_retained();
  bool adopt(SequencePtr& seq);
  void settle(Sequence& s);  // running: prefilling or decoding, from its counts
  void journal(const Sequence& s);

  SchedulerOptions options_;
  int max_blocks_;  // blocks of one full context
  KvBlockPool pool_;
  KvBlockPool window_pool_;  // the sliding-window layers' blocks (n_window_blocks)
  std::unique_ptr<PrefixCache> prefix_;  // null: the prefix cache is off
  std::unique_ptr<KvJournal> journal_;   // null: nothing is recorded
  std::vector<SequencePtr> running_;     // in admission order (the newest is preempted first)
  std::deque<SequencePtr> waiting_;      // admission order; preempted ones go back to the front
  std::vector<SequencePtr> parked_;      // taken off, KV in the swap space
  std::vector<RetainedKv> retained_;     // left by a previous engine, blocks taken from pool_
  std::vector<uint64_t> cancelling_, taking_off_;  // for the next schedule()
  EngineCounters counts_;
  uint64_t step_ = 0;  // schedule() calls
  StepPlan plan_;
};

}  // namespace llmos::engine
