#include "host_buffer.hpp"

#include <cstdlib>

#ifdef LLMOS_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace llmos::memory {

HostBuffer::HostBuffer(size_t bytes) {
  if (bytes == 0) return;
#ifdef LLMOS_HAVE_JEMALLOC
  data_ = static_cast<uint8_t*>(mallocx(bytes, 0));
#else
  data_ = static_cast<uint8_t*>(std::malloc(bytes));
#endif
  size_ = data_ ? bytes : 0;
}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    this->~HostBuffer();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

HostBuffer::~HostBuffer() {
  if (data_ == nullptr) return;
#ifdef LLMOS_HAVE_JEMALLOC
  dallocx(data_, 0);
#else
  std::free(data_);
#endif
  data_ = nullptr;
}

const char* host_allocator_name() {
#ifdef LLMOS_HAVE_JEMALLOC
  return "jemalloc " JEMALLOC_VERSION;
#else
  return "malloc";
#endif
}

}  // namespace llmos::memory
