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
#include "llmos/engine/kv_block_pool.hpp"

namespace llmos::engine {

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
  // [layers][2 (K, V)][block_size][kv_dim] of the cache's element type, over
  // the layers that hold n_blocks blocks (not the window layers).
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
