// measure_read_bandwidth_gbs: a STREAM-like read test on the driver's pool.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "aligned_buffer.hpp"
#include "cpu_driver.hpp"
#include "llmos/driver/cpu_bench.hpp"
#include "thread_pool.hpp"

namespace llmos::cpu {
namespace {

uint64_t sum_words(const uint64_t* p, size_t n) {
  // Eight independent sums: vectorizes to packed adds at -O3, no FP ordering issues.
  uint64_t s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  uint64_t total = 0;
  for (uint64_t v : s) total += v;
  return total;
}

}  // namespace

double measure_read_bandwidth_gbs(int threads) {
  constexpr size_t kBytes = size_t(1) << 30;
  constexpr int kRuns = 5;
  ThreadPool pool(threads > 0 ? threads : default_cpu_threads());
  AlignedBuffer buf(kBytes);
  const int64_t n_slices = int64_t(pool.size()) * 16;
  const size_t slice_words = kBytes / 8 / size_t(n_slices);
  auto* words = buf.as<uint64_t>();
  // First touch from the pool, so pages sit where the readers run.
  pool.parallel_for(n_slices, [&](int64_t s, int) {
    std::memset(words + size_t(s) * slice_words, int(s & 0xff), slice_words * 8);
  });
  std::vector<uint64_t> sums(static_cast<size_t>(n_slices));
  double best = 0.0;
  for (int run = 0; run < kRuns; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n_slices, [&](int64_t s, int) {
      sums[size_t(s)] = sum_words(words + size_t(s) * slice_words, slice_words);
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(slice_words * 8 * size_t(n_slices)) / sec / 1e9);
  }
  volatile uint64_t sink = 0;
  for (uint64_t v : sums) sink = sink + v;
  return best;
}

}  // namespace llmos::cpu
