#include "llmos/engine/kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace llmos::engine {

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

size_t KvCache::block_bytes() const { return size_t(layout_.block_bytes()); }

// A block is 2 runs of block_size * kv_dim elements per layer holding n_blocks
// blocks (the window layers' planes are not indexed by these blocks), one per
// (layer, K or V) plane; run `plane` of `block` starts here.
std::byte* KvCache::run_of(int plane, int32_t block) const {
  const size_t elems = layout_.plane_offset(plane / 2, plane % 2) +
                       size_t(block) * size_t(layout_.block_size) * size_t(layout_.kv_dim());
  return static_cast<std::byte*>(data_) + elems * layout_.elem_bytes();
}

void KvCache::read_block(int32_t block, std::span<std::byte> out) {
  LLMOS_REQUIRE(block >= 0 && block < layout_.n_blocks && out.size() == block_bytes(), "read_block: bad block or size");
  const size_t run = size_t(layout_.layer_block_bytes() / 2);
  size_t at = 0;
  for (int plane = 0; plane < layout_.n_layers * 2; ++plane) {
    if (layout_.is_window_layer(plane / 2)) continue;
    std::byte* dst = out.data() + at;
    at += run;
    if (driver_) {
      driver_->copy_to_host(dst, run_of(plane, block), run);
    } else {
      std::memcpy(dst, run_of(plane, block), run);
    }
  }
}

void KvCache::write_block(int32_t block, std::span<const std::byte> in) {
  LLMOS_REQUIRE(block >= 0 && block < layout_.n_blocks && in.size() == block_bytes(), "write_block: bad block or size");
  const size_t run = size_t(layout_.layer_block_bytes() / 2);
  size_t at = 0;
  for (int plane = 0; plane < layout_.n_layers * 2; ++plane) {
    if (layout_.is_window_layer(plane / 2)) continue;
    const std::byte* src = in.data() + at;
    at += run;
    if (driver_) {
      driver_->copy_to_device(run_of(plane, block), src, run);
    } else {
      std::memcpy(run_of(plane, block), src, run);
    }
  }
}

}  // namespace llmos::engine
