// KvBlockPool and BlockTable: the bookkeeping of the paged KV cache (which
// physical blocks are free, how many holders each used block has, and each
// sequence's map from logical to physical block). No KV data, no driver: the
// data lives in a KvCache (kv_cache.hpp). Not thread-safe: owned and used by
// the engine thread (the BatchScheduler).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "llmos/common/status.hpp"

namespace llmos::engine {

inline constexpr int kDefaultBlockSize = 16;  // tokens per KV block

// Hands out physical block ids [0, n_blocks), with a reference count each: a
// full block of a shared prompt prefix is held by every sequence that uses it
// and by the prefix cache, and goes back to the free list with its last
// reference. Freed blocks are reused LIFO so recently touched memory is reused
// first.
class KvBlockPool {
 public:
  explicit KvBlockPool(int n_blocks);

  int n_total() const { return int(refs_.size()); }
  int n_free() const { return int(free_.size()); }
  int n_used() const { return n_total() - n_free(); }

  // A free block, with one reference.
  std::optional<int32_t> allocate();
  // Marks the free block `block` used (KV adopted from a predecessor engine).
  // false when it is out of range or already in use.
  bool take(int32_t block);
  // One more reference to the block `block`, which is in use.
  void share(int32_t block);
  // Drops one reference; the block is free after its last.
  // REQUIRES: `block` is in use.
  void release(int32_t block);
  int refs(int32_t block) const { return refs_[size_t(block)]; }
  // Marks the block `block` (in use) as kept by the prefix cache, or no
  // longer. n_only_cached() counts the marked blocks nobody else holds,
  // kept up to date on every share and release (the engine reads it each step).
  void set_cached(int32_t block, bool cached);
  int n_only_cached() const { return only_cached_; }

 private:
  std::vector<int32_t> free_;    // stack of free ids
  std::vector<int32_t> refs_;    // [n_blocks]; 0 = free
  std::vector<uint8_t> cached_;  // [n_blocks]; kept by the prefix cache
  int only_cached_ = 0;          // cached blocks with exactly one reference (the cache's)
};

// A sequence's map from logical block (position / block_size) to physical block.
class BlockTable {
 public:
  explicit BlockTable(int block_size = kDefaultBlockSize) : block_size_(block_size) {}

  // Makes room for positions [0, n_tokens). Returns false, keeping what it
  // already had, when the pool runs out.
  bool reserve(KvBlockPool& pool, int n_tokens);
  // Gives every block back; the table is empty afterwards.
  void release_all(KvBlockPool& pool);
  // Gives back the blocks that hold only positions before `pos` (a sliding
  // window has passed them); their entries become -1 and their positions
  // have no slot any more. Returns how many it gave back.
  int release_before(KvBlockPool& pool, int pos);
  // Blocks the table holds (entries not given back).
  int n_held() const { return int(blocks_.size()) - first_held_; }
  // REQUIRES: the table is empty and this table holds one reference to each
  // of `blocks` (taken or shared from the pool for it).
  void adopt(std::span<const int32_t> blocks) {
    blocks_.assign(blocks.begin(), blocks.end());
    first_held_ = 0;
  }

  int capacity() const { return int(blocks_.size()) * block_size_; }
  int block_size() const { return block_size_; }
  std::span<const int32_t> blocks() const { return blocks_; }
  // REQUIRES: pos < capacity(), and its block was not given back.
  int32_t slot(int pos) const { return blocks_[pos / block_size_] * block_size_ + pos % block_size_; }

 private:
  int block_size_;
  std::vector<int32_t> blocks_;  // -1: given back by release_before
  int first_held_ = 0;           // entries before it are -1
};

}  // namespace llmos::engine
