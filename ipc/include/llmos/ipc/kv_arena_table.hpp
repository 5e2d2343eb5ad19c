// KvSequenceTable: the sequence table of a KV arena: for each running sequence,
// its request id, the tokens whose KV is committed and the blocks that hold it,
// so a model service that replaces a dead one continues from them. Each slot is
// written under a sequence number (odd while being written, checksum inside),
// so a write torn by a crash reads as absent. One writer (the engine thread);
// the handle borrows the arena memory and is not thread-safe.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "llmos/ipc/kv_arena.hpp"

namespace llmos::ipc {

struct KvTableEntry {
  uint64_t request_id = 0;
  std::vector<int32_t> tokens;  // committed: the KV of each is in the arena
  std::vector<int32_t> blocks;  // ceil(tokens / block_size) physical blocks, in order
};

struct KvTableContents {
  std::vector<KvTableEntry> entries;  // valid slots only
  int torn = 0;     // slots a writer died in the middle of
  int corrupt = 0;  // slots whose checksum or fields are inconsistent
};

class KvSequenceTable {
 public:
  // REQUIRES: `region` is the table of an arena with `layout`
  // (KvArenaMapping::table()) and outlives the handle.
  KvSequenceTable(void* region, const KvGeometry& layout);

  // Every valid slot; torn and corrupt ones are counted and left out.
  KvTableContents read() const;
  // read(), then takes over: valid entries are continued by put() and erase(),
  // torn and corrupt slots are cleared.
  KvTableContents recover();

  // Records that the committed KV of `request_id` covers `tokens` in `blocks`.
  // While an id keeps its slot, a call whose tokens and blocks extend the last
  // ones writes only what is new (REQUIRES: the earlier part is unchanged);
  // any other call rewrites the slot. false when every slot is taken or the
  // sizes do not fit a slot (the sequence is then not recorded).
  bool put(uint64_t request_id, std::span<const int32_t> tokens, std::span<const int32_t> blocks);
  // Forgets `request_id` (before its blocks are reused); no-op when absent.
  void erase(uint64_t request_id);

  const KvTableGeometry& geometry() const { return geometry_; }

 private:
  struct Shadow {  // what this writer last wrote into a slot
    uint64_t request_id = 0;
    uint32_t n_tokens = 0, n_blocks = 0;
    uint64_t token_hash = 0, block_hash = 0;  // running hashes of tokens and blocks
  };
  struct Slot;
  Slot* slot(uint32_t i) const;
  bool read_slot(uint32_t i, KvTableEntry& out, int& torn, int& corrupt) const;
  void write_slot(uint32_t i, const Shadow& s, std::span<const int32_t> tokens, uint32_t from_token,
                  std::span<const int32_t> blocks, uint32_t from_block);

  char* region_;
  KvGeometry layout_;
  KvTableGeometry geometry_;
  std::vector<Shadow> shadow_;  // [slots]
};

}  // namespace llmos::ipc
