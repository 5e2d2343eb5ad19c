// HostBuffer: a block of host memory for the memory service's store, from
// jemalloc (mallocx/dallocx, so the service's allocations come from jemalloc's
// arenas), or from malloc in sanitizer builds where jemalloc is not linked.
// Owns its bytes; movable, not copyable; single-thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace llmos::memory {

class HostBuffer {
 public:
  HostBuffer() = default;
  // Uninitialised bytes; an empty buffer when `bytes` is 0 or allocation fails
  // (check data()).
  explicit HostBuffer(size_t bytes);
  HostBuffer(HostBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// "jemalloc 5.3.0" or "malloc" (what HostBuffer allocates from).
const char* host_allocator_name();

}  // namespace llmos::memory
