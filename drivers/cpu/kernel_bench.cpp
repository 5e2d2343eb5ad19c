// run_kernel_bench: matmul throughput of the CPU driver per weight type, shape
// and token count, next to the machine's read bandwidth (`llmos-bench kernels`).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "cpu_driver.hpp"
#include "kernels.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/driver/cpu_bench.hpp"
#include "model_bench.hpp"

namespace llmos::cpu {
namespace {

struct BenchOptions {
  int threads = 0;
  IsaLevel isa = IsaLevel::kAmx;  // capped at what the CPU has
  bool quick = false;
  bool cpu_time = false;  // time by process CPU seconds (meaningful with --threads 1)
  std::vector<std::string> models;  // --model: whole-model prefill/decode instead of the kernel table
  std::vector<std::pair<int64_t, int64_t>> shapes;  // --shape RxC (default: 32000x768, 5632x2048)
  std::vector<DType> types;                         // --type NAME (default: a fixed list)
  std::vector<int> ns;                              // --n N (default: 1, 64)
  bool cold = true;                                 // --no-cold: skip the DRAM-streaming n=1 row
};

std::optional<DType> dtype_by_name(const std::string& name) {
  for (uint32_t id = 0; id < 64; ++id) {
    const auto t = dtype_from_ggml(id);
    if (t && dtype_name(*t) == name) return t;
  }
  return std::nullopt;
}

// Fills x with values in [-1, 1) from a xorshift generator (fast for 100M values).
void fill_random(std::vector<float>& x, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& v : x) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    v = float(int64_t(s >> 40) - (int64_t(1) << 23)) / float(1 << 23);
  }
}

// Weights streamed by the cold runs: well past the last-level cache (300 MiB here).
constexpr size_t kColdBytes = size_t(1) << 30;

void print_row(int64_t rows, int64_t cols, DType type, const std::string& n, double sec, double bytes, int tokens) {
  std::printf("%5lldx%-5lld %-5s %4s %10.3f %8.1f %9.1f\n", (long long)rows, (long long)cols,
              std::string(dtype_name(type)).c_str(), n.c_str(), sec * 1e3, bytes / sec / 1e9,
              2.0 * double(rows) * double(cols) * tokens / sec / 1e9);
  std::fflush(stdout);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Median seconds per call of fn (wall clock, or process CPU time), over calls
// filling about `budget` seconds.
template <class Fn>
double time_calls(Fn&& fn, double budget, bool cpu_time) {
  fn();  // warm up (scratch, caches, page faults)
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while ((seconds_since(start) < budget || times.size() < 3) && times.size() < 1000) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_seconds();
    fn();
    times.push_back(cpu_time ? process_cpu_seconds() - c0 : seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

bool parse_args(int argc, char** argv, BenchOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      o.threads = std::atoi(argv[++i]);
    } else if (a == "--isa" && i + 1 < argc) {
      const auto level = parse_isa_level(argv[++i]);
      if (!level) {
        std::fprintf(stderr, "--isa %s: expected scalar, avx2, avx512, avx512-novnni or amx\n", argv[i]);
        return false;
      }
      o.isa = *level;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--cpu-time") {
      o.cpu_time = true;
    } else if (a == "--model" && i + 1 < argc) {
      ModelShape shape;
      if (!model_shape_by_name(argv[++i], &shape)) {
        std::fprintf(stderr, "--model %s: expected 110m or 1.1b\n", argv[i]);
        return false;
      }
      o.models.push_back(argv[i]);
    } else if (a == "--shape" && i + 1 < argc) {
      long long r = 0, c = 0;
      if (std::sscanf(argv[++i], "%lldx%lld", &r, &c) != 2 || r <= 0 || c <= 0) {
        std::fprintf(stderr, "--shape %s: expected ROWSxCOLS\n", argv[i]);
        return false;
      }
      o.shapes.emplace_back(r, c);
    } else if (a == "--type" && i + 1 < argc) {
      const auto t = dtype_by_name(argv[++i]);
      if (!t) {
        std::fprintf(stderr, "--type %s: not a weight type name (e.g. q4_k)\n", argv[i]);
        return false;
      }
      o.types.push_back(*t);
    } else if (a == "--n" && i + 1 < argc) {
      const int n = std::atoi(argv[++i]);
      if (n <= 0 || n > 64) {
        std::fprintf(stderr, "--n %s: expected 1..64\n", argv[i]);
        return false;
      }
      o.ns.push_back(n);
    } else if (a == "--no-cold") {
      o.cold = false;
    } else {
      std::fprintf(stderr,
                   "usage: kernels [--threads N] [--isa scalar|avx2|avx512|avx512-novnni|amx] [--quick] [--cpu-time]"
                   " [--model 110m|1.1b]... [--shape RxC]... [--type NAME]... [--n N]... [--no-cold]\n");
      return false;
    }
  }
  return true;
}

}  // namespace

int run_kernel_bench(int argc, char** argv) {
  BenchOptions opt;
  if (!parse_args(argc, argv, opt)) return 2;
  driver::DriverOptions dopt;
  dopt.threads = opt.threads;
  auto drv = make_cpu_driver_at(dopt, opt.isa);
  if (!drv.ok()) {
    std::fprintf(stderr, "%s\n", drv.status().to_string().c_str());
    return 1;
  }
  const auto info = (*drv)->info();
  const double bw = measure_read_bandwidth_gbs(opt.threads);
  std::printf("cpu driver: %s; read bandwidth %.1f GB/s\n", info.details.c_str(), bw);
  if (!opt.models.empty()) {
    for (const std::string& name : opt.models) {
      ModelShape shape;
      model_shape_by_name(name, &shape);
      const int pp = opt.quick ? 128 : 512, tg = opt.quick ? 32 : 128;
      const ModelBenchResult r = run_model_bench(**drv, shape, pp, tg);
      const double pp_rate = opt.cpu_time ? r.prefill_tok_cpu_s : r.prefill_tok_s;
      const double tg_rate = opt.cpu_time ? r.decode_tok_cpu_s : r.decode_tok_s;
      std::printf("%s (%.0f MB): pp%d %.1f tok/s, tg%d %.1f tok/s (%.1f GB/s of weights)%s\n",
                  shape.name.c_str(), r.weight_bytes / 1e6, pp, pp_rate, tg, tg_rate, tg_rate * r.weight_bytes / 1e9,
                  opt.cpu_time ? " per CPU-second" : "");
      std::fflush(stdout);
    }
    return 0;
  }
  std::printf("%-11s %-5s %4s %10s %8s %9s%s\n", "shape", "type", "n", "ms/call", "GB/s", "GFLOP/s",
              opt.cpu_time ? "   (per CPU-second)" : "");

  struct Shape { int64_t rows, cols; };
  std::vector<Shape> shapes = {{32000, 768}, {5632, 2048}};
  if (!opt.shapes.empty()) {
    shapes.clear();
    for (const auto& [r, c] : opt.shapes) shapes.push_back({r, c});
  }
  std::vector<DType> types = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                              DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
                              DType::kQ3_K, DType::kQ2_K, DType::kIQ4_XS, DType::kQ5_0};
  if (!opt.types.empty()) types = opt.types;
  std::vector<int> ns = {1, 64};
  if (!opt.ns.empty()) ns = opt.ns;
  const double budget = opt.quick ? 0.1 : 0.4;
  for (const Shape& s : shapes) {
    std::vector<float> wf(size_t(s.rows * s.cols));
    fill_random(wf, uint64_t(s.rows));
    std::vector<float> x(size_t(64 * s.cols));
    fill_random(x, 7);
    std::vector<float> y(size_t(64 * s.rows));
    for (DType type : types) {
      const size_t row_bytes = size_t(dtype_row_bytes(type, s.cols));
      std::vector<uint8_t> wq(row_bytes * size_t(s.rows));
      if (uses_ext_quant_kernels(type)) {
        // No quantizer for these yet: random blocks (speed does not depend on the values).
        uint32_t h = 12345;
        for (auto& b : wq) b = uint8_t((h = h * 1103515245u + 12345u) >> 24);
      } else {
        for (int64_t r = 0; r < s.rows; ++r)
          quantize_row(type, wf.data() + r * s.cols, wq.data() + size_t(r) * row_bytes, s.cols);
      }
      const driver::Weight w{type, wq.data(), s.rows, s.cols};
      for (int n : ns) {
        const double sec = time_calls([&] { (*drv)->matmul(w, x.data(), y.data(), n); }, budget, opt.cpu_time);
        print_row(s.rows, s.cols, type, std::to_string(n), sec, double(wq.size()), n);
      }
      if (!opt.cold) continue;
      // n = 1 with the weights cold: rotate through copies that together exceed
      // the last-level cache, so every call streams its weights from DRAM.
      const size_t copies = std::max<size_t>(2, (kColdBytes + wq.size() - 1) / wq.size());
      std::vector<uint8_t> cold(wq.size() * copies);
      for (size_t c = 0; c < copies; ++c) std::memcpy(cold.data() + c * wq.size(), wq.data(), wq.size());
      size_t next = 0;
      const double sec = time_calls(
          [&] {
            const driver::Weight wc{type, cold.data() + (next++ % copies) * wq.size(), s.rows, s.cols};
            (*drv)->matmul(wc, x.data(), y.data(), 1);
          },
          budget, opt.cpu_time);
      print_row(s.rows, s.cols, type, "1c", sec, double(wq.size()), 1);
    }
  }
  return 0;
}

}  // namespace llmos::cpu
