#include "llmos/engine/kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <string>

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
  for (int32_t b : blocks_) pool.release(b);
  blocks_.clear();
}

Result<std::unique_ptr<KvCache>> KvCache::allocate(driver::Driver& driver, const KvGeometry& layout) {
  if (layout.type != DType::kF16 && layout.type != DType::kF32) {
    return invalid_argument("KV cache type must be f16 or f32, not " + std::string(dtype_name(layout.type)));
  }
  LLMOS_ASSIGN_OR_RETURN(auto buffer, driver.alloc(layout.bytes()));
  void* data = buffer->data();
  return std::unique_ptr<KvCache>(new KvCache(layout, data, std::move(buffer), &driver));
}

std::unique_ptr<KvCache> KvCache::borrow(const KvGeometry& layout, void* memory) {
  return std::unique_ptr<KvCache>(new KvCache(layout, memory, nullptr, nullptr));
}

size_t KvCache::block_bytes() const {
  return size_t(layout_.n_layers) * 2 * size_t(layout_.block_size) * size_t(layout_.kv_dim()) * layout_.elem_bytes();
}

// A block is n_layers * 2 runs of block_size * kv_dim elements, one per
// (layer, K or V) plane; run `plane` of `block` starts here.
std::byte* KvCache::run_of(int plane, int32_t block) const {
  const size_t elems = layout_.plane_offset(plane / 2, plane % 2) +
                       size_t(block) * size_t(layout_.block_size) * size_t(layout_.kv_dim());
  return static_cast<std::byte*>(data_) + elems * layout_.elem_bytes();
}

void KvCache::read_block(int32_t block, std::span<std::byte> out) {
  LLMOS_REQUIRE(block >= 0 && block < layout_.n_blocks && out.size() == block_bytes(), "read_block: bad block or size");
  const size_t run = block_bytes() / (size_t(layout_.n_layers) * 2);
  for (int plane = 0; plane < layout_.n_layers * 2; ++plane) {
    std::byte* dst = out.data() + size_t(plane) * run;
    if (driver_) {
      driver_->copy_to_host(dst, run_of(plane, block), run);
    } else {
      std::memcpy(dst, run_of(plane, block), run);
    }
  }
}

void KvCache::write_block(int32_t block, std::span<const std::byte> in) {
  LLMOS_REQUIRE(block >= 0 && block < layout_.n_blocks && in.size() == block_bytes(), "write_block: bad block or size");
  const size_t run = block_bytes() / (size_t(layout_.n_layers) * 2);
  for (int plane = 0; plane < layout_.n_layers * 2; ++plane) {
    const std::byte* src = in.data() + size_t(plane) * run;
    if (driver_) {
      driver_->copy_to_device(run_of(plane, block), src, run);
    } else {
      std::memcpy(run_of(plane, block), src, run);
    }
  }
}

}  // namespace llmos::engine
