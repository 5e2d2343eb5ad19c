#include "thread_pool.hpp"

#include "llmos/common/status.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace llmos::cpu {
namespace {

// An idle worker spins this many times (a pause is ~10-50 ns), then yields
// this many times, then sleeps on the condition variable. Between the ops of a
// forward pass it stays in the spin phase.
constexpr int kWorkerSpins = 4000;
constexpr int kWorkerYields = 2000;
// The owner, having run out of tasks, spins briefly for the stragglers, then
// yields the CPU to them (they may be waiting for it).
constexpr int kOwnerSpins = 500;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Flush denormals to zero (FTZ) and read them as zero (DAZ) while tasks run:
// the kernels never need them, and x86 handles them in ~100-cycle microcode
// assists (a softmax tail can produce them by the thousand).
class DenormalsOff {
 public:
#if defined(__x86_64__)
  DenormalsOff() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }
  ~DenormalsOff() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

inline uint32_t gen_of(uint64_t v) { return uint32_t(v >> 32); }
inline int64_t task_of(uint64_t v) { return int64_t(v & 0xffffffffu); }

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  LLMOS_REQUIRE(n_threads >= 1, "a thread pool needs at least one thread");
  workers_.reserve(size_t(n_threads - 1));
  for (int w = 1; w < n_threads; ++w) workers_.emplace_back([this, w] { worker_main(w); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  // A new generation with no tasks wakes everyone; stop_ tells them to leave.
  next_.store(uint64_t(generation_ + 1) << 32);
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_tasks(uint32_t gen, int worker) {
  const JobSlot& slot = slots_[gen & 1];
  const TaskFn fn = slot.fn.load(std::memory_order_relaxed);
  void* ctx = slot.ctx.load(std::memory_order_relaxed);
  const int64_t n = slot.n_tasks.load(std::memory_order_relaxed);
  uint64_t v = next_.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of(v) != gen || task_of(v) >= n) return;
    if (next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      fn(ctx, task_of(v), worker);
      done_.fetch_add(1, std::memory_order_release);
      v = next_.load(std::memory_order_acquire);
    }
  }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  DenormalsOff no_denormals;
  if (workers_.empty() || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
    return;
  }
  LLMOS_REQUIRE(n_tasks < (int64_t(1) << 32), "too many tasks for one parallel_for");
  const uint32_t gen = ++generation_;
  JobSlot& slot = slots_[gen & 1];
  slot.fn.store(fn, std::memory_order_relaxed);
  slot.ctx.store(ctx, std::memory_order_relaxed);
  slot.n_tasks.store(n_tasks, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  // seq_cst pairs with a worker's sleepers_ increment: either we see it and
  // wake it, or it sees the new generation and does not sleep.
  next_.store(uint64_t(gen) << 32, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  run_tasks(gen, 0);
  for (int i = 0; done_.load(std::memory_order_acquire) != n_tasks; ++i) {
    if (i < kOwnerSpins) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker_main(int worker) {
  DenormalsOff no_denormals;
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen = 0;
    for (int i = 0;; ++i) {
      gen = gen_of(next_.load(std::memory_order_acquire));
      if (gen != seen) break;
      if (i < kWorkerSpins) {
        cpu_relax();
      } else if (i < kWorkerSpins + kWorkerYields) {
        std::this_thread::yield();
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return gen_of(next_.load(std::memory_order_seq_cst)) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        i = 0;
      }
    }
    if (stop_.load()) return;
    seen = gen;
    run_tasks(gen, worker);
  }
}

}  // namespace llmos::cpu
