// AlignedBuffer: an owned, 64-byte aligned block of host memory that only grows
// (scratch sized once, reused by every call). Owns its memory; not thread-safe:
// one owner grows it, any thread may then use the bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace llmos::cpu {

class AlignedBuffer {
 public:
  static constexpr size_t kAlign = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { reserve(bytes); }

  // Makes size() >= bytes; the contents are lost when it has to grow.
  void reserve(size_t bytes) {
    if (bytes <= size_) return;
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) std::abort();  // out of memory in scratch: nothing sensible to return
    data_.reset(static_cast<uint8_t*>(p));
    size_ = rounded;
  }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  template <class T>
  T* as() { return reinterpret_cast<T*>(data_.get()); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> data_;
  size_t size_ = 0;
};

}  // namespace llmos::cpu
