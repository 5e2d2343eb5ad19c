#include "llmos/model/pull_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace llmos::model {
namespace {

// "pid 1234 (llmos)": who this process is, for the error another pull gets.
std::string describe_self() {
  std::string comm;
  std::ifstream in("/proc/self/comm");
  std::getline(in, comm);
  return "pid " + std::to_string(::getpid()) + (comm.empty() ? "" : " (" + comm + ")");
}

std::string read_holder(int fd) {
  char buf[128];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s = n > 0 ? std::string(buf, size_t(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "another process" : s;
}

}  // namespace

Result<PullLock> PullLock::acquire(const std::string& lock_path, std::string_view what) {
  // A holder removes the file as it releases: a lock taken on a file that is
  // no longer the one at the path is taken again on the new one.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return failed("cannot create the pull lock " + lock_path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        const std::string holder = read_holder(fd);
        ::close(fd);
        return overloaded(std::string(what) + " is already being pulled into this store by " + holder +
                          "; wait for that pull to end (or stop it) and pull again (lock " + lock_path + ")");
      }
      ::close(fd);
      return failed("cannot lock " + lock_path + ": " + std::strerror(err));
    }
    struct stat held{}, now{};
    if (::fstat(fd, &held) != 0 || ::stat(lock_path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
      ::close(fd);  // released and removed under us: try the new file
      continue;
    }
    const std::string me = describe_self() + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != ssize_t(me.size())) {
      // Only the description is lost: the lock itself holds.
    }
    return PullLock(fd, lock_path);
  }
  return failed("cannot lock " + lock_path + ": it keeps being replaced");
}

PullLock::PullLock(PullLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }

PullLock& PullLock::operator=(PullLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

PullLock::~PullLock() { release(); }

void PullLock::release() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still held: nobody can have locked the file at the path meanwhile
  ::close(fd_);
  fd_ = -1;
}

}  // namespace llmos::model
