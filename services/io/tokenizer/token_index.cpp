#include "llmos/tokenizer/token_index.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace llmos::tokenizer {

// FNV-1a over 8-byte words, then a multiply-xorshift finish: fast for the
// short strings tokens are. Unaligned loads go through memcpy.
uint64_t TokenIndex::hash_of(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull ^ text.size();
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    h = (h ^ word) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < text.size(); ++k) tail |= uint64_t(static_cast<uint8_t>(text[i + k])) << (8 * k);
  h = (h ^ tail) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 32);
}

void TokenIndex::build(const std::vector<std::string>& texts) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, texts.size() * 2));
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (size_t id = 0; id < texts.size(); ++id) {
    const uint64_t h = hash_of(texts[id]);
    for (uint64_t at = h & mask_;; at = (at + 1) & mask_) {
      Slot& slot = slots_[at];
      if (slot.id_plus_one == 0) {
        slot = {static_cast<uint32_t>(id + 1), static_cast<uint32_t>(h >> 32)};
        break;
      }
      if (slot.hash == static_cast<uint32_t>(h >> 32) && texts[slot.id_plus_one - 1] == texts[id]) {
        slot.id_plus_one = static_cast<uint32_t>(id + 1);
        break;
      }
    }
  }
}

int32_t TokenIndex::find(std::string_view text, const std::vector<std::string>& texts) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_of(text);
  for (uint64_t at = h & mask_;; at = (at + 1) & mask_) {
    const Slot& slot = slots_[at];
    if (slot.id_plus_one == 0) return -1;
    if (slot.hash == static_cast<uint32_t>(h >> 32) && texts[slot.id_plus_one - 1] == text) {
      return static_cast<int32_t>(slot.id_plus_one - 1);
    }
  }
}

}  // namespace llmos::tokenizer
