#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace llmos::gguf {
namespace {

std::string errno_text(int e) { return std::generic_category().message(e); }

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    std::string m = path + ": cannot open: " + errno_text(e);
    if (e == ENOENT || e == ENOTDIR) return not_found(std::move(m));
    return failed(std::move(m));
  }
  FdCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return failed(path + ": fstat failed: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return invalid_argument(path + ": not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  if (size == 0) return std::make_unique<MappedFile>(PrivateTag{}, nullptr, 0);
  void* p = ::mmap(nullptr, size_t(size), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return failed(path + ": mmap of " + std::to_string(size) +
                                     " bytes failed: " + errno_text(errno));
  return std::make_unique<MappedFile>(PrivateTag{}, static_cast<const uint8_t*>(p), size);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_t(size_));
}

}  // namespace llmos::gguf
