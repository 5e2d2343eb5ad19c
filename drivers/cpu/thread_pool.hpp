// ThreadPool: a fixed set of compute threads, created once, that run
// parallel_for loops. The pool owns its threads and joins them on destruction.
// One thread (the owner) calls parallel_for at a time and runs tasks itself as
// worker 0; idle workers spin, then yield, then sleep. No allocation per call.
// The owner waits only for tasks, never for workers: a worker the OS has not
// scheduled yet simply takes no part in a loop (what keeps an oversubscribed
// machine from turning every barrier into a scheduler timeslice). Tasks run
// with denormals flushed to zero (x86 FTZ/DAZ); the owner's mode is restored.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace llmos::cpu {

class ThreadPool {
 public:
  // REQUIRES: n_threads >= 1 (the caller counts as one of them).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Runs fn(task, worker) for every task in [0, n_tasks), handing tasks out in
  // order, and returns once all have finished (a barrier). worker is in
  // [0, size()): index per-thread scratch with it.
  // REQUIRES: n_tasks < 2^32; not called concurrently, nor from inside fn.
  template <class Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    auto trampoline = [](void* ctx, int64_t task, int worker) {
      (*static_cast<F*>(ctx))(task, worker);
    };
    run(n_tasks, trampoline, const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int worker);

  // Job parameters, double-buffered by generation parity: a late worker still
  // reading generation g's slot never races the owner writing g + 1's.
  struct JobSlot {
    std::atomic<TaskFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<int64_t> n_tasks{0};
  };

  void run(int64_t n_tasks, TaskFn fn, void* ctx);
  // Claims and runs tasks of generation `gen` until none are left or a newer
  // job replaced it.
  void run_tasks(uint32_t gen, int worker);
  void worker_main(int worker);

  JobSlot slots_[2];
  uint32_t generation_ = 0;  // owner's count of jobs

  // (generation << 32) | next unclaimed task. Claimed by compare-exchange, so
  // a worker can only take a task of the generation it read the job for.
  alignas(64) std::atomic<uint64_t> next_{0};
  alignas(64) std::atomic<int64_t> done_{0};  // tasks of the current job finished
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards sleeping only
  std::condition_variable wake_;
  std::vector<std::thread> workers_;  // workers 1 .. size()-1
};

}  // namespace llmos::cpu
