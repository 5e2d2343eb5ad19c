#include "llmos/engine/kv_swap.hpp"

#include <algorithm>
#include <string>

namespace llmos::engine {

Status HostKvSwapSpace::save(uint64_t request_id, std::span<const int32_t> tokens, KvCache& kv,
                             std::span<const int32_t> blocks) {
  drop(request_id);
  const size_t block_bytes = kv.block_bytes();
  const size_t bytes = blocks.size() * block_bytes;
  if (bytes > cap_ - used_) {
    return overloaded("the KV of request " + std::to_string(request_id) + " needs " + std::to_string(bytes) +
                      " bytes; the swap space holds " + std::to_string(used_) + " of " + std::to_string(cap_));
  }
  Saved s;
  s.tokens.assign(tokens.begin(), tokens.end());
  s.block_bytes = block_bytes;
  s.data.resize(bytes);
  for (size_t i = 0; i < blocks.size(); ++i) {
    kv.read_block(blocks[i], std::span(s.data).subspan(i * block_bytes, block_bytes));
  }
  used_ += bytes;
  saved_[request_id] = std::move(s);
  return ok_status();
}

Status HostKvSwapSpace::load(uint64_t request_id, std::span<const int32_t> tokens, KvCache& kv,
                             std::span<const int32_t> blocks) {
  auto it = saved_.find(request_id);
  if (it == saved_.end()) return not_found("no swapped-out KV for request " + std::to_string(request_id));
  const Saved& s = it->second;
  if (!std::equal(s.tokens.begin(), s.tokens.end(), tokens.begin(), tokens.end()) ||
      s.block_bytes != kv.block_bytes() || s.data.size() != blocks.size() * s.block_bytes) {
    drop(request_id);
    return invalid_argument("the swapped-out KV of request " + std::to_string(request_id) +
                            " covers other tokens or another shape");
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    kv.write_block(blocks[i], std::span(s.data).subspan(i * s.block_bytes, s.block_bytes));
  }
  drop(request_id);
  return ok_status();
}

void HostKvSwapSpace::drop(uint64_t request_id) {
  auto it = saved_.find(request_id);
  if (it == saved_.end()) return;
  used_ -= it->second.data.size();
  saved_.erase(it);
}

}  // namespace llmos::engine
