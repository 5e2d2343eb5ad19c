// The paged KV cache: a pool of fixed-size blocks and one block table per
// sequence. KvBlockPool and BlockTable are bookkeeping only (no KV data); the
// data lives in a KvCache buffer laid out as KvGeometry describes.
// Not thread-safe: owned and used by the engine thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/driver/driver.hpp"

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
  // REQUIRES: the table is empty and this table holds one reference to each
  // of `blocks` (taken or shared from the pool for it).
  void adopt(std::span<const int32_t> blocks) { blocks_.assign(blocks.begin(), blocks.end()); }

  int capacity() const { return int(blocks_.size()) * block_size_; }
  int block_size() const { return block_size_; }
  std::span<const int32_t> blocks() const { return blocks_; }
  // REQUIRES: pos < capacity().
  int32_t slot(int pos) const { return blocks_[pos / block_size_] * block_size_ + pos % block_size_; }

 private:
  int block_size_;
  std::vector<int32_t> blocks_;
};

// The KV storage of one model: a layout and the memory it describes, either
// allocated from the driver or borrowed (a shared-memory arena owned elsewhere).
class KvCache {
 public:
  static Result<std::unique_ptr<KvCache>> allocate(driver::Driver& driver, const KvGeometry& layout);
  // REQUIRES: `memory` holds layout.bytes() and outlives the KvCache.
  static std::unique_ptr<KvCache> borrow(const KvGeometry& layout, void* memory);

  const KvGeometry& layout() const { return layout_; }
  void* data() { return data_; }

  // One block packed on its own, as swap space and snapshots keep it:
  // [n_layers][2 (K, V)][block_size][kv_dim] of the cache's element type.
  size_t block_bytes() const;
  // REQUIRES: 0 <= block < n_blocks, out.size() == block_bytes().
  void read_block(int32_t block, std::span<std::byte> out);
  void write_block(int32_t block, std::span<const std::byte> in);

 private:
  KvCache(const KvGeometry& layout, void* data, std::unique_ptr<driver::DeviceBuffer> owned,
          driver::Driver* driver)
      : layout_(layout), data_(data), owned_(std::move(owned)), driver_(driver) {}
  std::byte* run_of(int plane, int32_t block) const;
  KvGeometry layout_;
  void* data_;
  std::unique_ptr<driver::DeviceBuffer> owned_;  // null when borrowed
  driver::Driver* driver_;  // copies in and out of allocated memory; null when borrowed (host memory)
};

}  // namespace llmos::engine
