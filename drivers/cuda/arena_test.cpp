// Device arenas: first-fit carving and coalescing, a child process mapping an
// arena through its CUDA IPC handle (the kernel/model-service split), weights
// that survive a "restart" (a second driver re-attaching with weights_resident),
// and the errors a user sees.
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "cuda_test_util.hpp"

namespace llmos::cuda::testing {
namespace {

using driver::CudaIpcHandle;
using driver::DeviceArena;

constexpr size_t kIpcArenaBytes = size_t(8) << 20;
constexpr uint32_t kWeightSeed = 1234;
constexpr int kPatternBytes = 4096;

uint8_t pattern(size_t i) { return uint8_t(i * 7 + 3); }

// The weights both processes bind, in this order (seeded: same bytes in both).
std::vector<HostWeight> ipc_weights(uint32_t seed) {
  std::vector<HostWeight> w;
  w.push_back(random_weight(DType::kQ8_0, 70, 96, seed));
  w.push_back(random_weight(DType::kF16, 33, 40, seed + 1));
  w.push_back(random_weight(DType::kQ4_0, 50, 64, seed + 2));
  w.push_back(random_weight(DType::kF32, 9, 17, seed + 3));
  return w;
}

TEST_CASE("an arena carves first fit, coalesces freed ranges and says when it is full") {
  auto arena = DeviceArena::create(0, 1 << 20);
  REQUIRE_MESSAGE(arena.ok(), arena.status().to_string());
  DeviceArena& a = **arena;
  auto o1 = a.allocate(1000), o2 = a.allocate(5000), o3 = a.allocate(300);
  REQUIRE((o1.ok() && o2.ok() && o3.ok()));
  CHECK(*o1 == 0);
  CHECK(*o2 == 1024);
  CHECK(*o3 == 1024 + 5120);
  a.release(*o2);
  auto o4 = a.allocate(4096);  // reuses o2's range
  REQUIRE(o4.ok());
  CHECK(*o4 == 1024);
  auto aligned = a.allocate(10, 4096);
  REQUIRE(aligned.ok());
  CHECK(*aligned % 4096 == 0);
  a.release(*o1);
  a.release(*o3);
  a.release(*o4);
  a.release(*aligned);
  CHECK(a.used() == 0);
  auto whole = a.allocate(1 << 20);  // everything coalesced back into one range
  CHECK(whole.ok());
  auto over = a.allocate(1);
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().code() == ErrorCode::kOverloaded);
  CHECK(over.status().message().find("device arena full") != std::string::npos);
}

TEST_CASE("a failed device allocation names cudaMalloc and the size") {
  auto drv = make_gpu();
  auto b = drv->alloc(size_t(1) << 50);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message().find("cudaMalloc") != std::string::npos);
  CHECK(b.status().message().find(std::to_string(size_t(1) << 50)) != std::string::npos);
  auto ok = drv->alloc(100);  // the driver still works afterwards
  CHECK(ok.ok());
}

TEST_CASE("a device that does not exist is an invalid argument") {
  driver::CudaDriverOptions o;
  o.device = 999;
  auto d = driver::make_cuda_driver(o);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == ErrorCode::kInvalidArgument);
  CHECK(d.status().message().find("999") != std::string::npos);
}

// Runs this test binary as `--ipc-child <mode> <handle>`; returns its exit code.
int run_child(const std::string& mode, const CudaIpcHandle& h) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);  // resolve here, not in the shell
  REQUIRE(n > 0);
  self[n] = 0;
  const std::string cmd = std::string(self) + " --ipc-child " + mode + " " + h.to_string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char line[512];
  std::string out;
  while (std::fgets(line, sizeof line, p)) out += line;
  const int status = pclose(p);
  if (!out.empty()) MESSAGE("child (" << mode << "): " << out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("another process maps an arena through its IPC handle and re-attaches to its weights") {
  auto arena = DeviceArena::create(0, kIpcArenaBytes);
  REQUIRE_MESSAGE(arena.ok(), arena.status().to_string());
  auto handle = (*arena)->ipc_handle();
  REQUIRE_MESSAGE(handle.ok(), handle.status().to_string());

  // Weights first (offsets from 0, as the child replays them), then a byte pattern.
  driver::CudaDriverOptions o;
  o.weight_arena = *arena;
  auto drv = make_gpu(o);
  auto weights = ipc_weights(kWeightSeed);
  for (auto& w : weights) REQUIRE(drv->upload_weight(w.w).ok());
  auto pat_off = (*arena)->allocate(kPatternBytes);
  REQUIRE(pat_off.ok());
  std::vector<uint8_t> pat(kPatternBytes);
  for (size_t i = 0; i < pat.size(); ++i) pat[i] = pattern(i);
  uint8_t* dev_pat = (*arena)->base() + *pat_off;
  REQUIRE(cudaMemcpy(dev_pat, pat.data(), pat.size(), cudaMemcpyHostToDevice) == cudaSuccess);

  CHECK(run_child("attach", *handle) == 0);
  // The child wrote a marker into the shared pattern.
  uint8_t marker = 0;
  REQUIRE(cudaMemcpy(&marker, dev_pat + kPatternBytes - 1, 1, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(marker == 0xA5);
  // A child binding different weights must be told, not given garbage.
  CHECK(run_child("wrong-weights", *handle) == 4);
}

TEST_CASE("weights_resident on an arena that does not hold them fails naming the tensor") {
  auto arena = DeviceArena::create(0, 1 << 20);
  REQUIRE(arena.ok());
  REQUIRE(cudaMemset((*arena)->base(), 0, (*arena)->size()) == cudaSuccess);
  driver::CudaDriverOptions o;
  o.weight_arena = *arena;
  o.weights_resident = true;
  auto drv = make_gpu(o);
  auto w = random_weight(DType::kF16, 4, 64, 5);
  auto r = drv->upload_weight(w.w);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("f16 [4 x 64]") != std::string::npos);
  CHECK(r.status().message().find("same order") != std::string::npos);
}

TEST_CASE("an error inside an op is kept, later ops are skipped, copies come back NaN when not aborting") {
  driver::CudaDriverOptions o;
  o.abort_on_error = false;
  auto drv = make_gpu(o);
  auto* cuda = driver::as_cuda_driver(*drv);
  REQUIRE(cuda != nullptr);
  CHECK(cuda->status().ok());
  // head_dim 512 is past what the attention kernels take: recorded, not fatal.
  KvGeometry L{1, 2, 16, 1, 512, DType::kF16};
  auto kv = device_zeros<uint8_t>(*drv, L.bytes());
  auto q = to_device(*drv, random_floats(512, 1));
  auto out = to_device(*drv, std::vector<float>(512, 3.0f));
  HostBatch b = simple_batch({0});
  drv->begin_step(b.view());
  drv->attention(L, kv.ptr(), 0, q.ptr(), out.ptr(), 1, 1.0f, 0);
  CHECK_FALSE(cuda->status().ok());
  CHECK(cuda->status().code() == ErrorCode::kUnimplemented);
  CHECK(cuda->status().message().find("head_dim 512") != std::string::npos);
  std::vector<float> host(512, 1.0f);
  drv->copy_to_host(host.data(), out.ptr(), host.size() * sizeof(float));
  CHECK(std::isnan(host[0]));
  CHECK(std::isnan(host[511]));
  auto cpu = make_cpu();
  CHECK(driver::as_cuda_driver(*cpu) == nullptr);
}

}  // namespace

// The child side of the IPC test: `--ipc-child attach|wrong-weights <handle>`.
// Exit codes: 0 ok, 2 bad arguments, 3 the arena or driver could not be opened,
// 4 a weight did not match, 5 wrong results.
int ipc_child_main(int argc, char** argv) {
  if (argc != 4) return 2;
  const std::string mode = argv[2];
  auto h = CudaIpcHandle::parse(argv[3]);
  if (!h.ok()) {
    std::printf("%s\n", h.status().to_string().c_str());
    return 2;
  }
  auto arena = driver::open_ipc_arena(*h);
  if (!arena.ok()) {
    std::printf("%s\n", arena.status().to_string().c_str());
    return 3;
  }
  driver::CudaDriverOptions o;
  o.weight_arena = *arena;
  o.weights_resident = true;
  auto drv = driver::make_cuda_driver(o);
  if (!drv.ok()) {
    std::printf("%s\n", drv.status().to_string().c_str());
    return 3;
  }
  auto host = ipc_weights(mode == "attach" ? kWeightSeed : kWeightSeed + 100);
  std::vector<Weight> dev;
  for (auto& w : host) {
    auto r = (*drv)->upload_weight(w.w);
    if (!r.ok()) {
      std::printf("%s\n", r.status().to_string().c_str());
      return 4;
    }
    dev.push_back(*r);
  }
  // The re-attached weights compute what the host values say. (No doctest
  // assertions here: this process runs no test case.)
  for (size_t i = 0; i < host.size(); ++i) {
    const HostWeight& w = host[i];
    const auto x = random_floats(size_t(w.w.cols), 77);
    auto dx = (*drv)->alloc(x.size() * sizeof(float));
    auto dy = (*drv)->alloc(size_t(w.w.rows) * sizeof(float));
    if (!dx.ok() || !dy.ok()) return 3;
    (*drv)->copy_to_device((*dx)->data(), x.data(), x.size() * sizeof(float));
    (*drv)->matmul(dev[i], static_cast<float*>((*dx)->data()), static_cast<float*>((*dy)->data()), 1);
    std::vector<float> y(size_t(w.w.rows));
    (*drv)->copy_to_host(y.data(), (*dy)->data(), y.size() * sizeof(float));
    for (int64_t r = 0; r < w.w.rows; ++r) {
      double want = 0, mag = 0;
      for (int64_t c = 0; c < w.w.cols; ++c) {
        want += double(w.values[size_t(r * w.w.cols + c)]) * x[size_t(c)];
        mag += std::fabs(double(w.values[size_t(r * w.w.cols + c)]) * x[size_t(c)]);
      }
      if (std::fabs(y[size_t(r)] - want) > 1e-2 * mag + 1e-4) {
        std::printf("weight %zu row %lld: got %g, want %g\n", i, (long long)r, double(y[size_t(r)]), want);
        return 5;
      }
    }
  }
  // The pattern the parent wrote after the weights is visible; leave a marker.
  const size_t weights_end = (*arena)->used();
  auto off = (*arena)->allocate(kPatternBytes);
  if (!off.ok() || *off != weights_end) return 5;
  std::vector<uint8_t> got(kPatternBytes);
  if (cudaMemcpy(got.data(), (*arena)->base() + *off, got.size(), cudaMemcpyDeviceToHost) != cudaSuccess) return 3;
  for (size_t i = 0; i + 1 < got.size(); ++i) {
    if (got[i] != pattern(i)) return 5;
  }
  const uint8_t marker = 0xA5;
  if (cudaMemcpy((*arena)->base() + *off + kPatternBytes - 1, &marker, 1, cudaMemcpyHostToDevice) != cudaSuccess)
    return 3;
  return 0;
}

}  // namespace llmos::cuda::testing
