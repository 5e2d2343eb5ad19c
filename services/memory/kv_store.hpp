// KvStore: the memory service's store of KV snapshots: the swapped-out KV of
// preempted sequences (by request id) and saved sessions (by name), each held
// as its encoded KvSnapshot message in a HostBuffer, within a byte cap. Saved
// sessions are also written to a folder so they survive a restart of the
// service (or of the whole system in the same runtime directory).
// Single-thread (the memory service's I/O thread).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "host_buffer.hpp"
#include "llmos/common/status.hpp"

namespace llmos::memory {

struct SessionSummary {
  std::string name;
  std::string model;
  uint32_t tokens = 0;
  uint64_t bytes = 0;
  uint64_t saved_unix_ms = 0;
};

class KvStore {
 public:
  // `session_dir` empty: sessions live in memory only.
  KvStore(uint64_t cap_bytes, std::filesystem::path session_dir);

  // overloaded when it would exceed the cap (naming both sizes).
  Status put_swap(uint64_t request_id, std::span<const uint8_t> snapshot);
  // not_found when absent. `release` forgets it after copying it out.
  Result<std::vector<uint8_t>> get_swap(uint64_t request_id, bool release);
  void drop_swap(uint64_t request_id);

  // invalid_argument for a bad name ([A-Za-z0-9._-], 1-64), overloaded past the cap.
  Status put_session(const std::string& name, std::span<const uint8_t> snapshot, const std::string& model,
                     uint32_t tokens);
  // not_found when neither in memory nor on disk.
  Result<std::vector<uint8_t>> get_session(const std::string& name);
  Status delete_session(const std::string& name);
  std::vector<SessionSummary> sessions() const;

  uint64_t used_bytes() const { return used_; }
  uint64_t cap_bytes() const { return cap_; }

 private:
  struct Session {
    HostBuffer data;
    SessionSummary summary;
  };
  Status reserve(uint64_t bytes, const std::string& what);
  void load_index();

  uint64_t cap_;
  uint64_t used_ = 0;
  std::filesystem::path dir_;
  std::map<uint64_t, HostBuffer> swaps_;
  std::map<std::string, Session> sessions_;
};

bool valid_session_name(const std::string& name);

}  // namespace llmos::memory
