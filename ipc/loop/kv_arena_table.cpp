#include "llmos/ipc/kv_arena_table.hpp"

#include <atomic>
#include <cstring>

namespace llmos::ipc {
namespace {

constexpr uint64_t kBasis = 0xcbf29ce484222325ull;  // FNV-1a, over 32-bit values
constexpr uint64_t kPrime = 0x100000001b3ull;

uint64_t fold(uint64_t h, std::span<const int32_t> values) {
  for (int32_t v : values) {
    h ^= uint32_t(v);
    h *= kPrime;
  }
  return h;
}

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t checksum(uint64_t request_id, uint32_t n_tokens, uint32_t n_blocks, uint64_t token_hash,
                  uint64_t block_hash) {
  uint64_t h = mix(request_id ^ 0x6c6c6d6f736b7632ull);
  h = mix(h ^ (uint64_t{n_tokens} << 32 | n_blocks));
  h = mix(h ^ token_hash);
  return mix(h ^ block_hash);
}

}  // namespace

// A slot: this header, then int32 tokens[max_tokens], then int32 blocks[max_blocks].
struct KvSequenceTable::Slot {
  uint64_t seq;         // even: stable; odd: being written (torn if its writer died)
  uint64_t request_id;  // 0: free
  uint32_t n_tokens;
  uint32_t n_blocks;
  uint64_t checksum;    // checksum() of the fields above and of the tokens and blocks
  uint64_t reserved[4];
  int32_t* tokens() { return reinterpret_cast<int32_t*>(this + 1); }
};

KvSequenceTable::KvSequenceTable(void* region, const KvGeometry& layout)
    : region_(static_cast<char*>(region)), layout_(layout), geometry_(kv_table_geometry(layout)),
      shadow_(geometry_.slots) {
  static_assert(sizeof(Slot) == 64, "the slot header is 64 bytes (docs/microkernel.md)");
}

KvSequenceTable::Slot* KvSequenceTable::slot(uint32_t i) const {
  return reinterpret_cast<Slot*>(region_ + uint64_t{i} * geometry_.slot_bytes);
}

bool KvSequenceTable::read_slot(uint32_t i, KvTableEntry& out, int& torn, int& corrupt) const {
  Slot* p = slot(i);
  std::atomic_ref<uint64_t> seq(p->seq);
  const uint64_t before = seq.load(std::memory_order_acquire);
  if (before & 1) {
    ++torn;
    return false;
  }
  const uint64_t id = p->request_id;
  const uint32_t n_tokens = p->n_tokens, n_blocks = p->n_blocks;
  if (id == 0) return false;  // free
  const uint32_t bs = uint32_t(layout_.block_size);
  if (n_tokens == 0 || n_tokens > geometry_.max_tokens || n_blocks != (n_tokens + bs - 1) / bs) {
    ++corrupt;
    return false;
  }
  out.request_id = id;
  out.tokens.assign(p->tokens(), p->tokens() + n_tokens);
  const int32_t* blocks = p->tokens() + geometry_.max_tokens;
  out.blocks.assign(blocks, blocks + n_blocks);
  const uint64_t sum = p->checksum;
  std::atomic_thread_fence(std::memory_order_acquire);
  if (seq.load(std::memory_order_relaxed) != before) {
    ++torn;  // written while we read: only when a writer is alive, which recovery rules out
    return false;
  }
  if (sum != checksum(id, n_tokens, n_blocks, fold(kBasis, out.tokens), fold(kBasis, out.blocks))) {
    ++corrupt;
    return false;
  }
  std::vector<uint8_t> seen(size_t(layout_.n_blocks), 0);
  for (int32_t b : out.blocks) {
    if (b < 0 || b >= layout_.n_blocks || seen[size_t(b)]++) {
      ++corrupt;
      return false;
    }
  }
  return true;
}

KvTableContents KvSequenceTable::read() const {
  KvTableContents out;
  for (uint32_t i = 0; i < geometry_.slots; ++i) {
    KvTableEntry e;
    if (read_slot(i, e, out.torn, out.corrupt)) out.entries.push_back(std::move(e));
  }
  return out;
}

KvTableContents KvSequenceTable::recover() {
  KvTableContents out;
  for (uint32_t i = 0; i < geometry_.slots; ++i) {
    KvTableEntry e;
    const int bad_before = out.torn + out.corrupt;
    if (read_slot(i, e, out.torn, out.corrupt)) {
      bool duplicate = false;
      for (const auto& s : shadow_) duplicate |= s.request_id == e.request_id;
      if (!duplicate) {
        shadow_[i] = Shadow{e.request_id, uint32_t(e.tokens.size()), uint32_t(e.blocks.size()),
                            fold(kBasis, e.tokens), fold(kBasis, e.blocks)};
        out.entries.push_back(std::move(e));
        continue;
      }
      ++out.corrupt;  // one request in two slots
    }
    if (out.torn + out.corrupt > bad_before) write_slot(i, Shadow{}, {}, 0, {}, 0);  // clear it
  }
  return out;
}

void KvSequenceTable::write_slot(uint32_t i, const Shadow& s, std::span<const int32_t> tokens, uint32_t from_token,
                                 std::span<const int32_t> blocks, uint32_t from_block) {
  Slot* p = slot(i);
  std::atomic_ref<uint64_t> seq(p->seq);
  const uint64_t base = (seq.load(std::memory_order_relaxed) + 1) & ~uint64_t{1};  // even, >= the current
  seq.store(base + 1, std::memory_order_relaxed);  // odd: a crash from here on leaves the slot torn
  std::atomic_thread_fence(std::memory_order_release);
  if (tokens.size() > from_token) {
    std::memcpy(p->tokens() + from_token, tokens.data() + from_token, (tokens.size() - from_token) * 4);
  }
  if (blocks.size() > from_block) {
    std::memcpy(p->tokens() + geometry_.max_tokens + from_block, blocks.data() + from_block,
                (blocks.size() - from_block) * 4);
  }
  p->request_id = s.request_id;
  p->n_tokens = s.n_tokens;
  p->n_blocks = s.n_blocks;
  p->checksum = s.request_id ? checksum(s.request_id, s.n_tokens, s.n_blocks, s.token_hash, s.block_hash) : 0;
  std::atomic_thread_fence(std::memory_order_release);
  seq.store(base + 2, std::memory_order_release);  // even: complete
}

bool KvSequenceTable::put(uint64_t request_id, std::span<const int32_t> tokens, std::span<const int32_t> blocks) {
  if (request_id == 0 || tokens.size() > geometry_.max_tokens || blocks.size() > geometry_.max_blocks) return false;
  uint32_t i = 0;
  while (i < geometry_.slots && shadow_[i].request_id != request_id) ++i;
  if (i == geometry_.slots) {
    i = 0;
    while (i < geometry_.slots && shadow_[i].request_id != 0) ++i;
    if (i == geometry_.slots) return false;
  }
  Shadow& now = shadow_[i];
  const bool extend = now.request_id == request_id && tokens.size() >= now.n_tokens && blocks.size() >= now.n_blocks;
  Shadow next = extend ? now : Shadow{request_id, 0, 0, kBasis, kBasis};
  const uint32_t from_token = next.n_tokens, from_block = next.n_blocks;
  if (extend && from_token == tokens.size() && from_block == blocks.size()) return true;  // nothing new
  next.token_hash = fold(next.token_hash, tokens.subspan(from_token));
  next.block_hash = fold(next.block_hash, blocks.subspan(from_block));
  next.n_tokens = uint32_t(tokens.size());
  next.n_blocks = uint32_t(blocks.size());
  write_slot(i, next, tokens, from_token, blocks, from_block);
  now = next;
  return true;
}

void KvSequenceTable::erase(uint64_t request_id) {
  if (request_id == 0) return;
  for (uint32_t i = 0; i < geometry_.slots; ++i) {
    if (shadow_[i].request_id != request_id) continue;
    write_slot(i, Shadow{}, {}, 0, {}, 0);
    shadow_[i] = Shadow{};
  }
}

}  // namespace llmos::ipc
