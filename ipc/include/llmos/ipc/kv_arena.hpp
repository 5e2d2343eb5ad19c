// The shared-memory KV arena of one model: created and sized by llmosd
// (KvArenaOwner, which unlinks it when destroyed), mapped by the model service
// (KvArenaMapping) whose engine keeps its paged KV cache there, so the memory
// belongs to the kernel and outlives a model-service crash; so does the
// sequence table (kv_arena_table.hpp) between the header and the KV data. Layout
// in docs/microkernel.md ("KV arena"). Both handles are owned by one thread;
// the memory itself is shared between processes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"
#include "llmos/domain/kv_geometry.hpp"

namespace llmos::ipc {


// The sequence table's geometry, a function of the layout: one slot per
// sequence (at most kKvTableMaxSlots, at most one per block), each able to hold
// every block of the arena and the tokens they cover.
inline constexpr uint32_t kKvTableMaxSlots = 64;
struct KvTableGeometry {
  uint32_t slots = 0;
  uint32_t max_tokens = 0;   // per slot: n_blocks * block_size
  uint32_t max_blocks = 0;   // per slot: n_blocks
  uint64_t slot_bytes = 0;   // 64-byte slot header + tokens + blocks, rounded up to 64
  uint64_t bytes() const { return uint64_t{slots} * slot_bytes; }
};
KvTableGeometry kv_table_geometry(const KvGeometry& layout);

// The header at offset 0 of every arena (kKvArenaHeaderBytes reserved), then
// the sequence table at kKvArenaHeaderBytes, then the KV data at header_bytes.
struct KvArenaHeader {
  char magic[8];             // "LLMOSKV1"
  uint32_t version;          // 4 (1 had no sequence table, 2 counted element bytes, 3 no window layers)
  uint32_t header_bytes;     // where the KV data begins: kv_arena_data_offset(layout)
  KvGeometry layout;
  uint64_t data_bytes;
  uint64_t attach_count;     // model services that have mapped it (bumped on each attach)
  uint32_t table_slots;      // kv_table_geometry(layout), written for readers of the raw arena
  uint32_t table_slot_bytes;
};
inline constexpr uint64_t kKvArenaHeaderBytes = 4096;
// kKvArenaHeaderBytes + the sequence table, rounded up to 4096.
uint64_t kv_arena_data_offset(const KvGeometry& layout);

// "/llmos-<uid>-<hash of runtime_dir>-<model>": unique per system and model, so
// systems in different runtime directories never share an arena.
std::string kv_arena_name(const std::filesystem::path& runtime_dir, std::string_view model);

// Removes arenas a previous kernel of `runtime_dir` left behind (it was killed).
// Returns how many it removed. REQUIRES: the caller holds the runtime dir lock.
int remove_stale_kv_arenas(const std::filesystem::path& runtime_dir);

class KvArenaOwner {
 public:
  // shm_open(O_CREAT | O_EXCL, 0600) + ftruncate + the header. A stale arena of
  // the same name is replaced. Errors name the arena and the call that failed.
  // invalid_argument when the layout's sequence table does not fit the header's fields.
  static Result<KvArenaOwner> create(const std::string& name, const KvGeometry& layout);
  KvArenaOwner(KvArenaOwner&& other) noexcept;
  KvArenaOwner& operator=(KvArenaOwner&& other) noexcept;
  KvArenaOwner(const KvArenaOwner&) = delete;
  KvArenaOwner& operator=(const KvArenaOwner&) = delete;
  ~KvArenaOwner();  // shm_unlink

  const std::string& name() const { return name_; }
  uint64_t bytes() const { return bytes_; }  // header + sequence table + data
  const KvGeometry& layout() const { return layout_; }

 private:
  KvArenaOwner(std::string name, uint64_t bytes, KvGeometry layout)
      : name_(std::move(name)), bytes_(bytes), layout_(layout) {}
  std::string name_;  // empty after a move
  uint64_t bytes_ = 0;
  KvGeometry layout_;
};

class KvArenaMapping {
 public:
  // Maps an existing arena read-write and checks its header: failed when it is
  // missing, invalid_argument when its size, magic or layout differ from
  // `expected`. Bumps attach_count.
  static Result<KvArenaMapping> map(const std::string& name, const KvGeometry& expected);
  KvArenaMapping(KvArenaMapping&& other) noexcept;
  KvArenaMapping& operator=(KvArenaMapping&& other) noexcept;
  KvArenaMapping(const KvArenaMapping&) = delete;
  KvArenaMapping& operator=(const KvArenaMapping&) = delete;
  ~KvArenaMapping();  // munmap

  const KvArenaHeader& header() const { return *static_cast<const KvArenaHeader*>(base_); }
  void* kv_data() { return static_cast<char*>(base_) + header().header_bytes; }  // data_bytes long
  void* table() { return static_cast<char*>(base_) + kKvArenaHeaderBytes; }      // the sequence table
  uint64_t bytes() const { return bytes_; }

 private:
  KvArenaMapping(void* base, uint64_t bytes) : base_(base), bytes_(bytes) {}
  void* base_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace llmos::ipc
