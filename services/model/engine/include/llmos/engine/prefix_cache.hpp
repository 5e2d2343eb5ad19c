// PrefixCache: the full KV blocks of sequences that have left the engine,
// found again by the tokens they hold. A new sequence whose prompt begins with
// the same tokens (the system prompt of a chat, the earlier turns of a
// conversation, a restored session) shares those blocks instead of computing
// their KV again. Blocks are keyed by a hash of the whole prefix up to and
// including them (a chain: each key mixes its parent's key with its own
// tokens), and each entry keeps its tokens and its parent's key, so a match is
// checked token by token. The cache holds one reference to each block it
// keeps (and marks it in the pool, which counts the blocks only the cache
// holds); a block only the cache holds is freed, least recently used first,
// when the engine runs short of blocks. A shared block is never written: a
// sequence only appends after its last full block. Not thread-safe: owned and
// used by the engine thread.
#pragma once
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "llmos/engine/kv_block_pool.hpp"

namespace llmos::engine {

class PrefixCache {
 public:
  explicit PrefixCache(int block_size) : block_size_(block_size) {}

  // The blocks holding the KV of the longest cached prefix of `tokens` made of
  // whole blocks and at most `limit` tokens long, in order. Each returned
  // block gets one more reference in `pool`, which the caller owns.
  std::vector<int32_t> match(std::span<const int32_t> tokens, int limit, KvBlockPool& pool);
  // Keeps the full blocks among `blocks` (in order, block i holding the KV of
  // tokens [i * block_size, (i + 1) * block_size)) that `tokens` covers
  // entirely, taking a reference to each block it did not have. A prefix the
  // cache already holds in other blocks keeps those.
  void insert(std::span<const int32_t> tokens, std::span<const int32_t> blocks, KvBlockPool& pool);
  // Frees the least recently used block that only the cache holds (the
  // deepest first among those used together). false when there is none.
  bool evict(KvBlockPool& pool);
  // Gives every block back (references held elsewhere stay).
  void clear(KvBlockPool& pool);

  int size() const { return int(entries_.size()); }

 private:
  struct Entry {
    uint64_t parent = 0;  // the key of the block before; 0 for the first
    int32_t block = -1;
    int depth = 0;        // index of the block in its prefix
    uint64_t used = 0;    // tick of the last match or insert
    std::vector<int32_t> tokens;
  };
  uint64_t key_of(uint64_t parent, std::span<const int32_t> block_tokens) const;

  int block_size_;
  uint64_t tick_ = 0;
  std::unordered_map<uint64_t, Entry> entries_;  // by chain key
};

}  // namespace llmos::engine
