#include "llmos/engine/kv_cache.hpp"

#include <string>

namespace llmos::engine {

KvBlockPool::KvBlockPool(int n_blocks) : in_use_(size_t(n_blocks), 0) {
  free_.reserve(size_t(n_blocks));
  for (int i = n_blocks - 1; i >= 0; --i) free_.push_back(i);  // block 0 handed out first
}

std::optional<int32_t> KvBlockPool::allocate() {
  if (free_.empty()) return std::nullopt;
  int32_t b = free_.back();
  free_.pop_back();
  in_use_[size_t(b)] = 1;
  return b;
}

void KvBlockPool::release(int32_t block) {
  LLMOS_REQUIRE(block >= 0 && block < n_total() && in_use_[size_t(block)], "releasing a block not in use");
  in_use_[size_t(block)] = 0;
  free_.push_back(block);
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

Result<std::unique_ptr<KvCache>> KvCache::allocate(driver::Driver& driver, const driver::KvLayout& layout) {
  if (layout.type != DType::kF16 && layout.type != DType::kF32) {
    return invalid_argument("KV cache type must be f16 or f32, not " + std::string(dtype_name(layout.type)));
  }
  LLMOS_ASSIGN_OR_RETURN(auto buffer, driver.alloc(layout.bytes()));
  void* data = buffer->data();
  return std::unique_ptr<KvCache>(new KvCache(layout, data, std::move(buffer)));
}

std::unique_ptr<KvCache> KvCache::borrow(const driver::KvLayout& layout, void* memory) {
  return std::unique_ptr<KvCache>(new KvCache(layout, memory, nullptr));
}

}  // namespace llmos::engine
