#include "llmos/model/sha256.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <vector>

namespace llmos::model {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  Ctx() : md(EVP_MD_CTX_new()) {
    LLMOS_ASSERT(md != nullptr);
    LLMOS_ASSERT(EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1);
  }
  ~Ctx() { EVP_MD_CTX_free(md); }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> bytes) {
  if (!bytes.empty()) LLMOS_ASSERT(EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) == 1);
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  LLMOS_ASSERT(EVP_DigestFinal_ex(ctx_->md, digest, &n) == 1);
  LLMOS_ASSERT(EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

Result<std::string> sha256_file(const std::string& path, uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + path);
  Sha256 h;
  std::vector<std::byte> buf(1 << 20);
  uint64_t left = length;
  while (left > 0) {
    const size_t want = size_t(std::min<uint64_t>(left, buf.size()));
    const ssize_t got = ::read(fd, buf.data(), want);
    if (got < 0) {
      if (errno == EINTR) continue;
      Status s = errno_status("read " + path);
      ::close(fd);
      return s;
    }
    if (got == 0) break;
    h.update(std::span(buf.data(), size_t(got)));
    left -= uint64_t(got);
  }
  ::close(fd);
  return h.hex_digest();
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

}  // namespace llmos::model
