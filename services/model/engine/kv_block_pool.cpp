#include "llmos/engine/kv_block_pool.hpp"

#include <algorithm>

namespace llmos::engine {

KvBlockPool::KvBlockPool(int n_blocks) : refs_(size_t(n_blocks), 0), cached_(size_t(n_blocks), 0) {
  free_.reserve(size_t(n_blocks));
  for (int i = n_blocks - 1; i >= 0; --i) free_.push_back(i);  // block 0 handed out first
}

std::optional<int32_t> KvBlockPool::allocate() {
  if (free_.empty()) return std::nullopt;
  int32_t b = free_.back();
  free_.pop_back();
  refs_[size_t(b)] = 1;
  return b;
}

bool KvBlockPool::take(int32_t block) {
  if (block < 0 || block >= n_total() || refs_[size_t(block)] != 0) return false;
  auto it = std::find(free_.begin(), free_.end(), block);
  if (it == free_.end()) return false;
  free_.erase(it);
  refs_[size_t(block)] = 1;
  return true;
}

void KvBlockPool::share(int32_t block) {
  LLMOS_REQUIRE(block >= 0 && block < n_total() && refs_[size_t(block)] > 0, "sharing a block not in use");
  if (cached_[size_t(block)] && refs_[size_t(block)] == 1) --only_cached_;
  ++refs_[size_t(block)];
}

void KvBlockPool::set_cached(int32_t block, bool cached) {
  LLMOS_REQUIRE(block >= 0 && block < n_total() && refs_[size_t(block)] > 0, "caching a block not in use");
  if (bool(cached_[size_t(block)]) == cached) return;
  cached_[size_t(block)] = cached;
  if (refs_[size_t(block)] == 1) only_cached_ += cached ? 1 : -1;
}

void KvBlockPool::release(int32_t block) {
  LLMOS_REQUIRE(block >= 0 && block < n_total() && refs_[size_t(block)] > 0, "releasing a block not in use");
  const int left = --refs_[size_t(block)];
  if (cached_[size_t(block)] && left == 1) ++only_cached_;
  if (left == 0) {
    LLMOS_REQUIRE(!cached_[size_t(block)], "a block the prefix cache keeps lost its last reference");
    free_.push_back(block);
  }
}

bool BlockTable::reserve(KvBlockPool& pool, int n_tokens) {
  while (capacity() < n_tokens) {
    auto b = pool.allocate();
    if (!b) return false;
    blocks_.push_back(*b);
  }
  return true;
}

void BlockTable::release_all(KvBlockPool& pool) {
  for (int32_t b : blocks_) {
    if (b >= 0) pool.release(b);
  }
  blocks_.clear();
  first_held_ = 0;
}

int BlockTable::release_before(KvBlockPool& pool, int pos) {
  const int end = std::min(pos / block_size_, int(blocks_.size()));  // blocks wholly before pos
  int released = 0;
  for (; first_held_ < end; ++first_held_, ++released) {
    pool.release(blocks_[size_t(first_held_)]);
    blocks_[size_t(first_held_)] = -1;
  }
  return released;
}

}  // namespace llmos::engine
