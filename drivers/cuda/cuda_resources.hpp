// RAII owners of the CUDA objects the driver holds (stream, event, cuBLAS
// handle, pinned host memory) and of sub-allocations of device arenas
// (ArenaSpan, ArenaPool, GrowingBuffer). Each is owned by one driver and used
// from its thread; ArenaPool is safe to use from several (arenas lock).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "cuda_check.hpp"
#include "llmos/driver/cuda_arena.hpp"

namespace llmos::cuda {

using driver::DeviceArena;

struct StreamOwner {
  cudaStream_t s = nullptr;
  StreamOwner() = default;
  StreamOwner(const StreamOwner&) = delete;
  StreamOwner& operator=(const StreamOwner&) = delete;
  ~StreamOwner() { if (s) cudaStreamDestroy(s); }
};
struct EventOwner {
  cudaEvent_t e = nullptr;
  EventOwner() = default;
  EventOwner(const EventOwner&) = delete;
  EventOwner& operator=(const EventOwner&) = delete;
  ~EventOwner() { if (e) cudaEventDestroy(e); }
};
struct CublasOwner {
  cublasHandle_t h = nullptr;
  CublasOwner() = default;
  CublasOwner(const CublasOwner&) = delete;
  CublasOwner& operator=(const CublasOwner&) = delete;
  ~CublasOwner() { if (h) cublasDestroy(h); }
};

// Page-locked host memory (cudaHostAlloc), for uploads the stream runs async.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { if (p_) cudaFreeHost(p_); }
  // Grows to at least `bytes` (contents lost). REQUIRES: no copy reads it now.
  Status reserve(size_t bytes);
  void* data() const { return p_; }
  size_t size() const { return size_; }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};

// A range of a device arena; empty when ptr == nullptr. Releases on destruction.
class ArenaSpan {
 public:
  ArenaSpan() = default;
  ArenaSpan(std::shared_ptr<DeviceArena> arena, size_t offset, size_t size)
      : arena_(std::move(arena)), offset_(offset), size_(size) {}
  ArenaSpan(ArenaSpan&& o) noexcept { *this = std::move(o); }
  ArenaSpan& operator=(ArenaSpan&& o) noexcept;
  ~ArenaSpan() { reset(); }
  void reset();
  void* ptr() const { return arena_ ? arena_->base() + offset_ : nullptr; }
  size_t size() const { return size_; }
  size_t offset() const { return offset_; }

 private:
  std::shared_ptr<DeviceArena> arena_;
  size_t offset_ = 0;
  size_t size_ = 0;
};

// The driver's own device memory: arenas of `chunk` bytes made on demand (a
// larger request gets an arena of its own size), carved first-fit.
class ArenaPool {
 public:
  ArenaPool(int device, size_t chunk) : device_(device), chunk_(chunk) {}
  Result<ArenaSpan> allocate(size_t bytes);
  size_t bytes() const;  // total size of the arenas

 private:
  int device_;
  size_t chunk_;
  std::vector<std::shared_ptr<DeviceArena>> arenas_;
};

// Allocates `bytes` from `arena` when given, else from `pool`.
Result<ArenaSpan> allocate_from(const std::shared_ptr<DeviceArena>& arena, ArenaPool& pool, size_t bytes);

// Device scratch that only grows. ensure() waits for `stream` before dropping
// the old range, so kernels already queued never see it reused.
class GrowingBuffer {
 public:
  Status ensure(ArenaPool& pool, cudaStream_t stream, size_t bytes);
  void* data() const { return span_.ptr(); }
  template <class T>
  T* as() const { return static_cast<T*>(span_.ptr()); }
  size_t size() const { return span_.size(); }
  void release() { span_.reset(); }

 private:
  ArenaSpan span_;
};

}  // namespace llmos::cuda
