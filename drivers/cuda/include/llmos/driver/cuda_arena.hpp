// DeviceArena: one plain cudaMalloc (never managed memory) sub-allocated by
// first fit with coalescing, exportable to another process as a CUDA IPC handle.
// The kernel creates an arena and uploads weights into it; a model service opens
// the handle and maps the same memory (see drivers/cuda/README.md). Arenas are
// shared_ptr-owned (buffers carved from one keep it alive); all methods are
// thread-safe. No CUDA header is needed to use this one.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::driver {

// Offsets handed out by an arena are multiples of this (cudaMalloc's own alignment).
inline constexpr size_t kArenaAlign = 256;

// What another process needs to map an arena: the opaque cudaIpcMemHandle_t
// bytes, the arena's size and the device ordinal it lives on.
struct CudaIpcHandle {
  std::array<uint8_t, 64> bytes{};
  uint64_t size = 0;
  int32_t device = 0;

  // "<device>:<size>:<128 hex digits>", for a message field or a command line.
  std::string to_string() const;
  // invalid_argument naming the text when it is not what to_string() writes.
  static Result<CudaIpcHandle> parse(std::string_view text);
};

class DeviceArena {
 public:
  // cudaMalloc of `bytes` (rounded up to kArenaAlign) on `device`.
  // Errors: failed("cudaMalloc(...): out of memory ...") and the like.
  static Result<std::shared_ptr<DeviceArena>> create(int device, size_t bytes);
  // Maps an arena exported by another process (cudaIpcOpenMemHandle). The new
  // arena's allocator starts empty: the importer decides what lives where.
  // REQUIRES: the exporting process keeps its arena alive meanwhile.
  static Result<std::shared_ptr<DeviceArena>> open_ipc(const CudaIpcHandle& handle);
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // The handle another process passes to open_ipc (cudaIpcGetMemHandle).
  // failed() for an arena that was itself imported.
  Result<CudaIpcHandle> ipc_handle() const;

  int device() const { return device_; }
  bool imported() const { return imported_; }
  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }
  size_t used() const;  // bytes currently allocated (rounded sizes)

  // First free range that fits `bytes` at `align` (a power of two, >= 1; the
  // offset is also a multiple of kArenaAlign). overloaded("arena full ...") when
  // none fits. Same sequence of calls on a fresh arena -> same offsets.
  Result<size_t> allocate(size_t bytes, size_t align = kArenaAlign);
  // REQUIRES: `offset` came from allocate() and was not released yet.
  void release(size_t offset);
  bool contains(const void* p) const { return p >= base_ && p < base_ + size_; }

 private:
  DeviceArena(int device, uint8_t* base, size_t size, bool imported);

  const int device_;
  uint8_t* const base_;
  const size_t size_;
  const bool imported_;
  mutable std::mutex mu_;
  std::map<size_t, size_t> free_;  // offset -> bytes, disjoint and coalesced
  std::map<size_t, size_t> used_;  // offset -> bytes
};

// Shorthands for the two ways to get an arena.
inline Result<std::shared_ptr<DeviceArena>> create_device_arena(int device, size_t bytes) {
  return DeviceArena::create(device, bytes);
}
inline Result<std::shared_ptr<DeviceArena>> open_ipc_arena(const CudaIpcHandle& handle) {
  return DeviceArena::open_ipc(handle);
}

}  // namespace llmos::driver
