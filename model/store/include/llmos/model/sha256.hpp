// SHA-256 of a stream of bytes (OpenSSL's EVP underneath), for the model
// store's checksums and for pulls that hash while they download.
// A Sha256 owns its digest context; one per thread, not shared.
#pragma once
#include <memory>
#include <span>
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::model {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::span<const std::byte> bytes);
  void update(std::string_view bytes) { update(std::as_bytes(std::span(bytes.data(), bytes.size()))); }
  // The digest as 64 lowercase hex digits. The hasher then starts over.
  std::string hex_digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// The SHA-256 of the first `length` bytes of `path` (all of it when length is
// npos). failed naming the file when it cannot be read.
Result<std::string> sha256_file(const std::string& path, uint64_t length = UINT64_MAX);

// True for 64 hex digits (either case).
bool is_sha256_hex(std::string_view text);

}  // namespace llmos::model
