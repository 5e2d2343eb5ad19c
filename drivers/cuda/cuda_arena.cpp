// DeviceArena (cuda_arena.hpp): one cudaMalloc, a first-fit free list, IPC export/import.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda_check.hpp"
#include "llmos/driver/cuda_arena.hpp"

namespace llmos::driver {
namespace {

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace

std::string CudaIpcHandle::to_string() const {
  static const char kHex[] = "0123456789abcdef";
  std::string s = std::to_string(device) + ":" + std::to_string(size) + ":";
  for (uint8_t b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

Result<CudaIpcHandle> CudaIpcHandle::parse(std::string_view text) {
  auto bad = [&](const char* why) {
    return invalid_argument("CUDA IPC handle '" + std::string(text.substr(0, 40)) +
                            (text.size() > 40 ? "...'" : "'") + ": " + why);
  };
  const size_t c1 = text.find(':');
  const size_t c2 = c1 == std::string_view::npos ? c1 : text.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return bad("expected <device>:<size>:<hex bytes>");
  CudaIpcHandle h;
  try {
    h.device = int32_t(std::stol(std::string(text.substr(0, c1))));
    h.size = std::stoull(std::string(text.substr(c1 + 1, c2 - c1 - 1)));
  } catch (...) {
    return bad("device or size is not a number");
  }
  const std::string_view hex = text.substr(c2 + 1);
  if (hex.size() != h.bytes.size() * 2) return bad("expected 128 hex digits");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < h.bytes.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad("not a hex digit");
    h.bytes[i] = uint8_t(hi << 4 | lo);
  }
  return h;
}

DeviceArena::DeviceArena(int device, uint8_t* base, size_t size, bool imported)
    : device_(device), base_(base), size_(size), imported_(imported) {
  if (size_ > 0) free_[0] = size_;
}

Result<std::shared_ptr<DeviceArena>> DeviceArena::create(int device, size_t bytes) {
  if (bytes == 0) return invalid_argument("device arena of 0 bytes");
  const size_t size = round_up(bytes, kArenaAlign);
  LLMOS_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, size);
  if (err != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky; clear it
    return cuda::cuda_status(err, "cudaMalloc(" + std::to_string(size) + " bytes) for a device arena on device " +
                                      std::to_string(device));
  }
  return std::shared_ptr<DeviceArena>(new DeviceArena(device, static_cast<uint8_t*>(p), size, false));
}

Result<std::shared_ptr<DeviceArena>> DeviceArena::open_ipc(const CudaIpcHandle& h) {
  if (h.size == 0) return invalid_argument("CUDA IPC handle of a 0-byte arena");
  LLMOS_CUDA_RETURN_IF_ERROR(cudaSetDevice(h.device));
  cudaIpcMemHandle_t mh;
  static_assert(sizeof(mh) == sizeof(h.bytes));
  std::memcpy(&mh, h.bytes.data(), sizeof(mh));
  void* p = nullptr;
  const cudaError_t err = cudaIpcOpenMemHandle(&p, mh, cudaIpcMemLazyEnablePeerAccess);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return cuda::cuda_status(err, "cudaIpcOpenMemHandle(" + std::to_string(h.size) + "-byte arena of device " +
                                      std::to_string(h.device) + ")");
  }
  return std::shared_ptr<DeviceArena>(new DeviceArena(h.device, static_cast<uint8_t*>(p), size_t(h.size), true));
}

DeviceArena::~DeviceArena() {
  if (base_ == nullptr) return;
  int prev = -1;
  cudaGetDevice(&prev);
  cudaSetDevice(device_);
  const cudaError_t err = imported_ ? cudaIpcCloseMemHandle(base_) : cudaFree(base_);
  if (err != cudaSuccess && err != cudaErrorCudartUnloading) {
    std::fprintf(stderr, "llmos: %s\n",
                 cuda::cuda_status(err, imported_ ? "cudaIpcCloseMemHandle" : "cudaFree").to_string().c_str());
  }
  if (prev >= 0 && prev != device_) cudaSetDevice(prev);
}

Result<CudaIpcHandle> DeviceArena::ipc_handle() const {
  if (imported_) return failed("cannot re-export a device arena that was itself opened from an IPC handle");
  cudaIpcMemHandle_t mh;
  LLMOS_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  LLMOS_CUDA_RETURN_IF_ERROR(cudaIpcGetMemHandle(&mh, base_));
  CudaIpcHandle h;
  std::memcpy(h.bytes.data(), &mh, sizeof(mh));
  h.size = size_;
  h.device = device_;
  return h;
}

size_t DeviceArena::used() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [off, len] : used_) n += len;
  return n;
}

Result<size_t> DeviceArena::allocate(size_t bytes, size_t align) {
  LLMOS_REQUIRE(align > 0 && (align & (align - 1)) == 0, "alignment must be a power of two");
  align = align < kArenaAlign ? kArenaAlign : align;
  const size_t want = round_up(bytes == 0 ? 1 : bytes, kArenaAlign);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const size_t start = round_up(it->first, align);
    const size_t end = it->first + it->second;
    if (start > end || end - start < want) continue;
    const size_t off = it->first;
    free_.erase(it);
    if (start > off) free_[off] = start - off;  // the alignment gap stays free
    if (start + want < end) free_[start + want] = end - (start + want);
    used_[start] = want;
    return start;
  }
  size_t largest = 0;
  for (const auto& [off, len] : free_) largest = len > largest ? len : largest;
  return overloaded("device arena full: " + std::to_string(bytes) + " bytes wanted, largest free range " +
                    std::to_string(largest) + " of " + std::to_string(size_) + " bytes");
}

void DeviceArena::release(size_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = used_.find(offset);
  LLMOS_REQUIRE(it != used_.end(), "releasing an arena offset that is not allocated");
  size_t off = it->first, len = it->second;
  used_.erase(it);
  auto next = free_.lower_bound(off);
  if (next != free_.end() && next->first == off + len) {  // merge with the range after
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {  // merge with the range before
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  free_[off] = len;
}

}  // namespace llmos::driver
