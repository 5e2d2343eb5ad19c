// run_cuda_bench (cuda_bench.hpp): decode attention bandwidth against the
// device's peak, and matmul throughput of each weight path, through the public
// driver interface (host wall clock around many calls + synchronize, so launch
// overhead is included: what the engine sees).
#include "llmos/driver/cuda_bench.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "llmos/common/fp16.hpp"
#include "llmos/common/quant.hpp"
#include "llmos/driver/cuda_driver.hpp"

namespace llmos::cuda {
namespace {

using driver::Driver;
using driver::StepBatch;
using driver::Weight;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode = "all";
  int device = 0;
  bool quick = false;
};

double peak_gbs(int device) {
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;
  }
  return 2.0 * double(clock_khz) * 1e3 * double(bus_bits) / 8.0 / 1e9;  // double data rate
}

// Seconds per call of fn, over enough calls to take >= 0.2 s (after a warm-up).
template <class Fn>
double time_per_call(Driver& d, Fn&& fn) {
  fn();
  d.synchronize();
  int iters = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) fn();
    d.synchronize();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s >= 0.2 || iters >= (1 << 20)) return s / iters;
    iters *= s > 0.02 ? int(0.25 / s) + 1 : 10;
  }
}

std::unique_ptr<driver::DeviceBuffer> device_random(Driver& d, size_t bytes, uint32_t seed, bool f16) {
  auto buf = d.alloc(bytes);
  if (!buf.ok()) return nullptr;
  std::vector<uint8_t> host(std::min<size_t>(bytes, size_t(64) << 20));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  if (f16) {
    for (size_t i = 0; i + 1 < host.size(); i += 2) {
      const uint16_t h = f32_to_f16(dist(rng));
      std::memcpy(&host[i], &h, 2);
    }
  } else {
    for (size_t i = 0; i + 3 < host.size(); i += 4) {
      const float f = dist(rng);
      std::memcpy(&host[i], &f, 4);
    }
  }
  for (size_t off = 0; off < bytes; off += host.size())
    d.copy_to_device(static_cast<uint8_t*>((*buf)->data()) + off, host.data(), std::min(host.size(), bytes - off));
  return std::move(*buf);
}

int bench_attention(const Args& a, double peak) {
  std::printf("\ndecode attention (one layer, every token at the end of its context; bytes = K and V rows read)\n");
  std::printf("%-6s %-7s %-10s %-5s %-9s %12s %10s %8s\n", "batch", "ctx", "heads", "hd", "split", "us/call",
              "GB/s", "of peak");
  const int n_heads = 32, n_kv = 8, hd = 128, bs = 16;
  const std::vector<int> batches = {1, 8, 32};
  const std::vector<int> ctxs = a.quick ? std::vector<int>{1024, 4096} : std::vector<int>{1024, 4096, 16384};
  for (int split : {512, 0}) {
    driver::CudaDriverOptions o;
    o.device = a.device;
    o.attention_split_len = split;
    auto drv = driver::make_cuda_driver(o);
    if (!drv.ok()) {
      std::printf("%s\n", drv.status().to_string().c_str());
      return 1;
    }
    Driver& d = **drv;
    for (int batch : batches) {
      for (int ctx : ctxs) {
        if (split == 0 && batch > 1) continue;  // unsplit only matters when the grid is small
        const int blocks_per_seq = (ctx + bs - 1) / bs;
        KvGeometry L{1, batch * blocks_per_seq, bs, n_kv, hd, DType::kF16};
        auto kv = device_random(d, L.bytes(), 1, true);
        auto q = device_random(d, size_t(batch) * n_heads * hd * 4, 2, false);
        auto out = d.alloc(size_t(batch) * n_heads * hd * 4);
        if (!kv || !q || !out.ok()) {
          std::printf("%-6d %-7d out of device memory\n", batch, ctx);
          continue;
        }
        std::vector<int32_t> phys(size_t(L.n_blocks));
        std::iota(phys.begin(), phys.end(), 0);
        std::shuffle(phys.begin(), phys.end(), std::mt19937(3));
        const size_t nb = size_t(batch);
        std::vector<int32_t> ids(nb, 0), pos(nb, ctx - 1), seq(nb), slots(nb);
        for (int s = 0; s < batch; ++s) {
          seq[size_t(s)] = s;
          slots[size_t(s)] = phys[size_t(s * blocks_per_seq + (ctx - 1) / bs)] * bs + (ctx - 1) % bs;
        }
        StepBatch b{batch, ids.data(), pos.data(), seq.data(), slots.data(), batch, blocks_per_seq,
                    phys.data(), 0, nullptr};
        d.begin_step(b);
        const double s = time_per_call(d, [&] {
          d.attention(L, kv->data(), 0, static_cast<float*>(q->data()), static_cast<float*>((*out)->data()), n_heads,
                      0.088f, 0);
        });
        const double bytes = double(batch) * ctx * L.kv_dim() * 2.0 * 2.0;
        const double gbs = bytes / s / 1e9;
        std::printf("%-6d %-7d %-10s %-5d %-9s %12.1f %10.1f %7.0f%%\n", batch, ctx, "32/8", hd,
                    split ? std::to_string(split).c_str() : "none", s * 1e6, gbs, peak > 0 ? 100.0 * gbs / peak : 0.0);
      }
    }
  }
  return 0;
}

int bench_matmul(const Args& a, double peak) {
  std::printf("\nmatmul (y = W x; GB/s counts the weight bytes read once per call; quantized weights on both\n"
              "paths: dp4a = matrix-vector passes of 8 tokens, tiles = dequantize to f16 + cuBLAS)\n");
  std::printf("%-6s %-7s %-14s %-5s %12s %10s %8s %10s\n", "type", "path", "rows x cols", "n", "us/call", "GB/s",
              "of peak", "TFLOP/s");
  struct Shape { int64_t rows, cols; };
  const std::vector<Shape> shapes = a.quick ? std::vector<Shape>{{4096, 4096}}
                                            : std::vector<Shape>{{4096, 4096}, {14336, 4096}, {4096, 14336}};
  for (DType t : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    const bool quant = t == DType::kQ8_0 || t == DType::kQ4_0;
    for (Shape sh : shapes) {
      std::vector<float> row(size_t(sh.cols));
      std::vector<uint8_t> host(size_t(dtype_row_bytes(t, sh.cols) * sh.rows));
      std::mt19937 rng(4);
      std::normal_distribution<float> dist(0.0f, 0.02f);
      for (int64_t r = 0; r < sh.rows; ++r) {
        for (auto& v : row) v = dist(rng);
        quantize_row(t, row.data(), host.data() + size_t(r) * size_t(dtype_row_bytes(t, sh.cols)), sh.cols);
      }
      for (int path = 0; path < (quant ? 2 : 1); ++path) {
        driver::CudaDriverOptions o;
        o.device = a.device;
        o.quant_matvec_max_tokens = path == 0 ? 64 : 0;
        auto drv = driver::make_cuda_driver(o);
        if (!drv.ok()) {
          std::printf("%s\n", drv.status().to_string().c_str());
          return 1;
        }
        Driver& d = **drv;
        auto w = d.upload_weight(Weight{t, host.data(), sh.rows, sh.cols});
        if (!w.ok()) {
          std::printf("%s\n", w.status().to_string().c_str());
          return 1;
        }
        for (int n : {1, 8, 32, 64, 512}) {
          if (quant && path == 0 && n > 64) continue;
          auto x = device_random(d, size_t(n) * size_t(sh.cols) * 4, 5, false);
          auto y = d.alloc(size_t(n) * size_t(sh.rows) * 4);
          if (!x || !y.ok()) continue;
          const double s = time_per_call(d, [&] {
            d.matmul(*w, static_cast<float*>(x->data()), static_cast<float*>((*y)->data()), n);
          });
          const double gbs = double(host.size()) / s / 1e9;
          const double tflops = 2.0 * double(sh.rows) * double(sh.cols) * n / s / 1e12;
          const std::string shape = std::to_string(sh.rows) + "x" + std::to_string(sh.cols);
          std::printf("%-6s %-7s %-14s %-5d %12.1f %10.1f %7.0f%% %10.2f\n", std::string(dtype_name(t)).c_str(),
                      !quant ? "cublas" : path == 0 ? "dp4a" : "tiles", shape.c_str(), n, s * 1e6, gbs,
                      peak > 0 ? 100.0 * gbs / peak : 0.0, tflops);
        }
      }
    }
  }
  return 0;
}

}  // namespace

int run_cuda_bench(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "attention" || s == "matmul" || s == "all") {
      a.mode = s;
    } else if (s == "--quick") {
      a.quick = true;
    } else if (s == "--device" && i + 1 < argc) {
      a.device = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: llmos-cuda-bench [attention|matmul|all] [--device N] [--quick]\n");
      return 2;
    }
  }
  if (!driver::cuda_device_available()) {
    auto d = driver::make_cuda_driver({});
    std::printf("%s\n", d.ok() ? "no CUDA device" : d.status().message().c_str());
    return 1;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, a.device) != cudaSuccess) {
    std::printf("CUDA device %d: cannot read its properties\n", a.device);
    return 1;
  }
  const double peak = peak_gbs(a.device);
  std::printf("device %d: %s, sm_%d%d, %d SMs, peak memory bandwidth %.0f GB/s (memory clock x bus width x 2)\n",
              a.device, prop.name, prop.major, prop.minor, prop.multiProcessorCount, peak);
  int rc = 0;
  if (a.mode == "attention" || a.mode == "all") rc |= bench_attention(a, peak);
  if (a.mode == "matmul" || a.mode == "all") rc |= bench_matmul(a, peak);
  return rc;
}

}  // namespace llmos::cuda
