#include "llmos/engine/prefix_cache.hpp"

#include <algorithm>

namespace llmos::engine {

uint64_t PrefixCache::key_of(uint64_t parent, std::span<const int32_t> block_tokens) const {
  // FNV-1a over the parent's key and the tokens, then a final avalanche.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  mix(parent);
  for (int32_t t : block_tokens) mix(uint64_t(uint32_t(t)));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h == 0 ? 1 : h;  // 0 is "no parent"
}

std::vector<int32_t> PrefixCache::match(std::span<const int32_t> tokens, int limit, KvBlockPool& pool) {
  std::vector<int32_t> out;
  const size_t bs = size_t(block_size_);
  const size_t n_blocks = size_t(std::clamp(limit, 0, int(tokens.size()))) / bs;
  uint64_t parent = 0;
  ++tick_;
  for (size_t i = 0; i < n_blocks; ++i) {
    const auto piece = tokens.subspan(i * bs, bs);
    const uint64_t key = key_of(parent, piece);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.parent != parent ||
        !std::equal(piece.begin(), piece.end(), it->second.tokens.begin(), it->second.tokens.end())) {
      break;
    }
    it->second.used = tick_;
    pool.share(it->second.block);
    out.push_back(it->second.block);
    parent = key;
  }
  return out;
}

void PrefixCache::insert(std::span<const int32_t> tokens, std::span<const int32_t> blocks, KvBlockPool& pool) {
  const size_t bs = size_t(block_size_);
  const size_t n_blocks = std::min(tokens.size() / bs, blocks.size());
  uint64_t parent = 0;
  ++tick_;
  for (size_t i = 0; i < n_blocks; ++i) {
    const auto piece = tokens.subspan(i * bs, bs);
    const uint64_t key = key_of(parent, piece);
    auto [it, fresh] = entries_.try_emplace(key);
    Entry& e = it->second;
    if (fresh) {
      e.parent = parent;
      e.block = blocks[i];
      e.depth = int(i);
      e.tokens.assign(piece.begin(), piece.end());
      pool.share(e.block);
      pool.set_cached(e.block, true);
    } else if (e.parent != parent || !std::equal(piece.begin(), piece.end(), e.tokens.begin(), e.tokens.end())) {
      return;  // a different prefix under the same key (a hash collision): keep the one there
    }
    e.used = tick_;
    parent = key;
  }
}

bool PrefixCache::evict(KvBlockPool& pool) {
  auto victim = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (pool.refs(it->second.block) != 1) continue;  // a running sequence uses it
    if (victim == entries_.end() || it->second.used < victim->second.used ||
        (it->second.used == victim->second.used && it->second.depth > victim->second.depth)) {
      victim = it;
    }
  }
  if (victim == entries_.end()) return false;
  pool.set_cached(victim->second.block, false);
  pool.release(victim->second.block);
  entries_.erase(victim);
  return true;
}

void PrefixCache::clear(KvBlockPool& pool) {
  for (auto& [key, e] : entries_) {
    pool.set_cached(e.block, false);
    pool.release(e.block);
  }
  entries_.clear();
}

}  // namespace llmos::engine
