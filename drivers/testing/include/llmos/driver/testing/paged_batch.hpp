// StepBatches for the drivers' tests: host arrays that own what a StepBatch
// points at, and paged batches over shuffled, non-contiguous KV blocks.
// A StepBatch from view() borrows the HostBatch; keep it alive and unchanged
// while a driver reads the step. Test-only; not thread-safe.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "llmos/driver/driver.hpp"

namespace llmos::driver::testing {

// Host arrays behind a StepBatch.
struct HostBatch {
  std::vector<int32_t> ids, pos, seq, slots, tables, out_rows;
  int n_seqs = 1, max_blocks = 1;
  StepBatch view() const {
    StepBatch b;
    b.n_tokens = int(pos.size());
    b.token_ids = ids.data();
    b.positions = pos.data();
    b.seq_index = seq.data();
    b.kv_slots = slots.data();
    b.n_seqs = n_seqs;
    b.max_blocks = max_blocks;
    b.block_tables = tables.data();
    b.n_outputs = int(out_rows.size());
    b.output_rows = out_rows.data();
    return b;
  }
  void add_token(int32_t id, int32_t position, int32_t seq_index, int32_t kv_slot) {
    ids.push_back(id);
    pos.push_back(position);
    seq.push_back(seq_index);
    slots.push_back(kv_slot);
  }
};

// n tokens of one sequence at the given positions, all in slot 0, one block
// table entry (block 0). Token ids 0 unless given.
inline HostBatch simple_batch(const std::vector<int32_t>& positions, const std::vector<int32_t>& ids = {}) {
  HostBatch b;
  b.pos = positions;
  b.ids = ids.empty() ? std::vector<int32_t>(positions.size(), 0) : ids;
  b.seq.assign(positions.size(), 0);
  b.slots.assign(positions.size(), 0);
  b.tables = {0};
  return b;
}

// One sequence of a paged scenario: what the cache holds before the step under
// test, and how many tokens that step adds.
struct SeqSpan {
  int cached;  // positions already in the cache before the tested step
  int fresh;   // tokens of this sequence in the tested step
};

// Block tables of sequences over shuffled physical blocks: sequence s's logical
// block i is a random block, distinct from every other sequence's.
struct PagedTables {
  int n_seqs = 0;
  int block_size = 0;
  int max_blocks = 0;            // enough for the longest sequence plus one spare column (-1)
  std::vector<int32_t> tables;   // [n_seqs][max_blocks], -1 = unmapped

  int64_t slot_of(int s, int pos) const {
    return int64_t(tables[size_t(s * max_blocks + pos / block_size)]) * block_size + pos % block_size;
  }
  // A batch with these tables and no tokens yet.
  HostBatch empty_batch() const {
    HostBatch b;
    b.n_seqs = n_seqs;
    b.max_blocks = max_blocks;
    b.tables = tables;
    return b;
  }
  // The cached prefixes of every sequence (token ids 0), sequence by sequence.
  HostBatch prefix_batch(const std::vector<SeqSpan>& seqs) const {
    HostBatch b = empty_batch();
    for (int s = 0; s < int(seqs.size()); ++s)
      for (int p = 0; p < seqs[size_t(s)].cached; ++p) b.add_token(0, p, s, int32_t(slot_of(s, p)));
    return b;
  }
  // The fresh tokens of every sequence (token ids 0): sequence by sequence, or
  // interleaved round-robin (one token of each sequence in turn).
  HostBatch fresh_batch(const std::vector<SeqSpan>& seqs, bool interleave) const {
    HostBatch b = empty_batch();
    auto add = [&](int s, int i) {
      const int p = seqs[size_t(s)].cached + i;
      b.add_token(0, p, s, int32_t(slot_of(s, p)));
    };
    if (!interleave) {
      for (int s = 0; s < int(seqs.size()); ++s)
        for (int i = 0; i < seqs[size_t(s)].fresh; ++i) add(s, i);
      return b;
    }
    for (int round = 0;; ++round) {
      bool any = false;
      for (int s = 0; s < int(seqs.size()); ++s) {
        if (round >= seqs[size_t(s)].fresh) continue;
        any = true;
        add(s, round);
      }
      if (!any) break;
    }
    return b;
  }
};

// Tables for `seqs` (cached + fresh positions each) over `n_blocks` blocks of
// `block_size`, shuffled by `seed`. REQUIRES: n_blocks covers every sequence.
inline PagedTables shuffled_tables(const std::vector<SeqSpan>& seqs, int n_blocks, int block_size, uint32_t seed) {
  PagedTables t;
  t.n_seqs = int(seqs.size());
  t.block_size = block_size;
  int max_len = 0;
  for (const SeqSpan& s : seqs) max_len = std::max(max_len, s.cached + s.fresh);
  t.max_blocks = (max_len + block_size - 1) / block_size + 1;  // one spare column stays -1
  std::vector<int32_t> phys(static_cast<size_t>(n_blocks));
  std::iota(phys.begin(), phys.end(), 0);
  std::shuffle(phys.begin(), phys.end(), std::mt19937(seed));
  t.tables.assign(size_t(t.n_seqs * t.max_blocks), -1);
  size_t next = 0;
  for (int s = 0; s < t.n_seqs; ++s) {
    const int len = seqs[size_t(s)].cached + seqs[size_t(s)].fresh;
    for (int i = 0; i < (len + block_size - 1) / block_size; ++i)
      t.tables[size_t(s * t.max_blocks + i)] = phys.at(next++);
  }
  return t;
}

}  // namespace llmos::driver::testing
