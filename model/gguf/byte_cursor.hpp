// ByteCursor: a position in a borrowed byte range with little-endian reads.
// Every read REQUIRES fits(n); the parser checks fits() first and turns a miss
// into an error naming the field. Not thread-safe (it is a moving position).
#pragma once
#include <cstdint>
#include <bit>
#include <cstring>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::gguf {

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }
  bool fits(uint64_t n) const { return n <= size_ - pos_; }

  // llmos targets little-endian hosts only, so a memcpy is the decode.
  template <class T>
  T read() {
    LLMOS_REQUIRE(fits(sizeof(T)), "ByteCursor read past the end");
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_view(uint64_t n) {
    LLMOS_REQUIRE(fits(n), "ByteCursor read past the end");
    std::string_view v(reinterpret_cast<const char*>(data_ + pos_), size_t(n));
    pos_ += n;
    return v;
  }
  void skip(uint64_t n) {
    LLMOS_REQUIRE(fits(n), "ByteCursor skip past the end");
    pos_ += n;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

static_assert(std::endian::native == std::endian::little, "llmos reads GGUF on little-endian hosts");

}  // namespace llmos::gguf
