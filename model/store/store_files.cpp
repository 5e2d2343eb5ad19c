#include "llmos/model/store_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace llmos::model {
namespace {

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<TempFile> TempFile::create(const std::string& dir, const std::string& prefix) {
  std::string tmpl = dir + "/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) return errno_status("create a temporary file in " + dir);
  return TempFile(fd, std::string(buf.data()));
}

TempFile::TempFile(TempFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)), committed_(o.committed_) {
  o.fd_ = -1;
  o.committed_ = true;  // the moved-from object removes nothing
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !path_.empty()) ::unlink(path_.c_str());
}

Status TempFile::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write " + path_);
    }
    bytes.remove_prefix(size_t(n));
  }
  return ok_status();
}

Status TempFile::commit(const std::string& target) {
  if (::fsync(fd_) != 0) return errno_status("fsync " + path_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return errno_status("close " + path_);
  }
  fd_ = -1;
  LLMOS_RETURN_IF_ERROR(rename_durably(path_, target));
  committed_ = true;
  return ok_status();
}

Status rename_durably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename " + from + " to " + to);
  return fsync_dir(parent_dir(to));
}

Status fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open folder " + dir);
  const int rc = ::fsync(fd);
  Status s = rc == 0 ? ok_status() : errno_status("fsync folder " + dir);
  ::close(fd);
  return s;
}

Status write_file_atomically(const std::string& path, std::string_view bytes, const std::string& temp_dir) {
  LLMOS_ASSIGN_OR_RETURN(TempFile tmp, TempFile::create(temp_dir, ".write-"));
  LLMOS_RETURN_IF_ERROR(tmp.write_all(bytes));
  if (::fchmod(tmp.fd(), 0644) != 0) return errno_status("chmod " + tmp.path());
  return tmp.commit(path);
}

Result<std::string> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = errno_status("read " + path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

Result<FileLock> FileLock::acquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("open lock " + path);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    Status s = errno_status("lock " + path);
    ::close(fd);
    return s;
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace llmos::model
