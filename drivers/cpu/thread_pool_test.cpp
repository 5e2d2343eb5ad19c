#include "thread_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace llmos::cpu {
namespace {

TEST_CASE("parallel_for runs every task exactly once") {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int64_t n : {0, 1, 2, 7, 1000, 100000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<bool> bad_worker{false};
      pool.parallel_for(n, [&](int64_t task, int worker) {
        if (worker < 0 || worker >= threads) bad_worker = true;
        hits[size_t(task)].fetch_add(1, std::memory_order_relaxed);
      });
      CHECK_FALSE(bad_worker.load());
      int wrong = 0;
      for (auto& h : hits) wrong += h.load() != 1;
      INFO("threads=" << threads << " n=" << n);
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("each parallel_for is a barrier: results are visible to the next call") {
  ThreadPool pool(3);
  const int64_t n = 257;
  std::vector<int64_t> a(size_t(n), 0), b(size_t(n), 0);
  for (int round = 0; round < 2000; ++round) {
    // b[i] = a[i] + a[(i + 1) % n] + 1 reads what the previous call wrote.
    pool.parallel_for(n, [&](int64_t i, int) { b[size_t(i)] = a[size_t(i)] + a[size_t((i + 1) % n)] % 7 + 1; });
    std::swap(a, b);
  }
  // Serial replay.
  std::vector<int64_t> ra(size_t(n), 0), rb(size_t(n), 0);
  for (int round = 0; round < 2000; ++round) {
    for (int64_t i = 0; i < n; ++i) rb[size_t(i)] = ra[size_t(i)] + ra[size_t((i + 1) % n)] % 7 + 1;
    std::swap(ra, rb);
  }
  CHECK(a == ra);
}

TEST_CASE("workers that went to sleep wake for the next call") {
  ThreadPool pool(2);
  std::atomic<int> count{0};
  pool.parallel_for(4, [&](int64_t, int) { count++; });
  std::this_thread::sleep_for(std::chrono::milliseconds(120));  // past spin and yield
  std::atomic<int> seen_worker1{0};
  for (int i = 0; i < 3; ++i) {
    pool.parallel_for(64, [&](int64_t, int w) {
      count++;
      if (w == 1) seen_worker1++;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
  }
  CHECK(count.load() == 4 + 3 * 64);
  CHECK(seen_worker1.load() > 0);  // the second thread took part
}

TEST_CASE("a pool is destroyed cleanly while workers sleep or spin") {
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(3);
    if (i % 2) pool.parallel_for(10, [](int64_t, int) {});
  }
}

}  // namespace
}  // namespace llmos::cpu
