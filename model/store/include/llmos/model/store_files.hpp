// File operations the model store and pulls build on: a temporary file that is
// removed unless it is committed (renamed into place), atomic whole-file
// writes (temp + fsync + rename + fsync of the folder) and an advisory lock
// over a store. Each object owns its descriptor; not shared between threads.
#pragma once
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::model {

// A file created with a unique name in `dir` ("<prefix>XXXXXX"); removed by the
// destructor unless commit() renamed it.
class TempFile {
 public:
  static Result<TempFile> create(const std::string& dir, const std::string& prefix);
  ~TempFile();
  TempFile(TempFile&& o) noexcept;
  TempFile& operator=(TempFile&&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  Status write_all(std::string_view bytes);
  // fsync, close, rename over `target` and fsync the target's folder.
  Status commit(const std::string& target);

 private:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
  bool committed_ = false;
};

// Writes `bytes` to `path` so that a reader sees the old file or the new one,
// never part of it (the temp file sits in `temp_dir`, on the same filesystem).
Status write_file_atomically(const std::string& path, std::string_view bytes, const std::string& temp_dir);
// Renames `from` over `to`, then fsyncs `to`'s folder.
Status rename_durably(const std::string& from, const std::string& to);
Status fsync_dir(const std::string& dir);
Result<std::string> read_whole_file(const std::string& path);

// flock(LOCK_EX) on `path` (created when missing) for the object's life.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::string& path);
  ~FileLock();
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace llmos::model
