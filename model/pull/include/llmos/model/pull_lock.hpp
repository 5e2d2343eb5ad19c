// PullLock: one pull of a URL into a store at a time, across processes (`llmos
// pull` and the server's /api/pull share the store's .partial file): an
// exclusive flock(2) on "<partial>.lock", which says who holds it. The lock
// goes with its owner (destroyed, or its process ended, even by a crash); the
// file is removed on release. Move-only; one owner; not shared between threads.
#pragma once
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos::model {

class PullLock {
 public:
  // Takes the lock at `lock_path` for a pull of `what` (the source, as the
  // user gave it), without waiting: overloaded naming `what` and the holder
  // ("pid 1234 (llmos)") when another pull has it; failed naming the file
  // when it cannot be created.
  static Result<PullLock> acquire(const std::string& lock_path, std::string_view what);

  PullLock(PullLock&& other) noexcept;
  PullLock& operator=(PullLock&& other) noexcept;
  PullLock(const PullLock&) = delete;
  PullLock& operator=(const PullLock&) = delete;
  ~PullLock();

  const std::string& path() const { return path_; }

 private:
  PullLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void release();

  int fd_ = -1;
  std::string path_;
};

}  // namespace llmos::model
