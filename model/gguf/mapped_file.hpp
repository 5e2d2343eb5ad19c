// MappedFile: RAII owner of a read-only, shared mmap of a whole file.
// The mapping is released when the MappedFile is destroyed; data() is valid until
// then. Immutable after open(): safe to read from any thread. (A file truncated by
// another process while mapped can still fault on access; llmos does not do that.)
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::gguf {

class MappedFile {
  struct PrivateTag {};

 public:
  // Errors: not_found (no such file), invalid_argument (not a regular file),
  // failed (open/fstat/mmap failed). An empty file maps to data() == nullptr, size 0.
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);

  MappedFile(PrivateTag, const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_;
  uint64_t size_;
};

}  // namespace llmos::gguf
