// StepPlan without a GPU: which tokens go to the prefill and decode kernels,
// how long contexts are split, and the packed metadata image.
#include <doctest/doctest.h>

#include <vector>

#include "step_plan.hpp"

namespace llmos::cuda {
namespace {

struct HostBatch {
  std::vector<int32_t> ids, pos, seq, slots, tables, out_rows;
  int n_seqs = 0, max_blocks = 0;
  driver::StepBatch view() const {
    driver::StepBatch b;
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
  void add_run(int s, int first_pos, int count) {
    for (int i = 0; i < count; ++i) {
      ids.push_back(7);
      pos.push_back(first_pos + i);
      seq.push_back(s);
      slots.push_back(first_pos + i);
    }
  }
};

TEST_CASE("runs of consecutive positions become prefill tiles, short runs decode work") {
  HostBatch hb;
  hb.n_seqs = 3;
  hb.max_blocks = 4;
  hb.tables.assign(12, 0);
  hb.add_run(0, 100, 1);  // decode token
  hb.add_run(1, 0, 70);   // a prompt chunk: tiles of 32, 32, 6
  hb.add_run(2, 5, 3);    // a short run: 3 decode tokens
  hb.out_rows = {0, 70, 73};
  PlanOptions o;
  o.split_len = 0;
  StepPlan plan;
  plan.build(hb.view(), o);
  REQUIRE(plan.tiles().size() == 3);
  CHECK(plan.tiles()[0].first_token == 1);
  CHECK(plan.tiles()[0].n_tokens == 32);
  CHECK(plan.tiles()[2].first_token == 65);
  CHECK(plan.tiles()[2].n_tokens == 6);
  REQUIRE(plan.work().size() == 4);
  CHECK(plan.work()[0].token == 0);
  CHECK(plan.work()[0].p_end == 101);
  CHECK(plan.work()[3].token == 73);
  CHECK(plan.work()[3].p_end == 8);
  CHECK(plan.reduce().empty());
}

TEST_CASE("a run that breaks its positions or changes sequence starts a new run") {
  HostBatch hb;
  hb.n_seqs = 2;
  hb.max_blocks = 1;
  hb.tables = {0, 1};
  hb.add_run(0, 0, 10);
  hb.add_run(1, 0, 10);  // same positions, other sequence
  hb.add_run(1, 20, 8);  // same sequence, a gap
  PlanOptions o;
  StepPlan plan;
  plan.build(hb.view(), o);
  REQUIRE(plan.tiles().size() == 3);
  CHECK(plan.tiles()[1].first_token == 10);
  CHECK(plan.tiles()[2].first_token == 20);
  CHECK(plan.tiles()[2].n_tokens == 8);
  CHECK(plan.work().empty());
}

TEST_CASE("long decode contexts split into parts that cover every position once") {
  HostBatch hb;
  hb.n_seqs = 2;
  hb.max_blocks = 1;
  hb.tables = {0, 1};
  hb.add_run(0, 1000, 1);     // 1001 positions
  hb.add_run(1, 200000, 1);   // capped at max_splits parts
  PlanOptions o;
  o.split_len = 250;  // rounded up to 256
  o.max_splits = 64;
  StepPlan plan;
  plan.build(hb.view(), o);
  REQUIRE(plan.reduce().size() == 2);
  const ReduceItem r0 = plan.reduce()[0];
  CHECK(r0.n_split == 4);
  int covered = 0;
  for (int i = 0; i < r0.n_split; ++i) {
    const DecodeWork& w = plan.work()[size_t(r0.first_work + i)];
    CHECK(w.p_begin == covered);
    CHECK(w.n_split == 4);
    covered = w.p_end;
  }
  CHECK(covered == 1001);
  const ReduceItem r1 = plan.reduce()[1];
  CHECK(r1.n_split <= 64);
  CHECK(plan.work()[size_t(r1.first_work + r1.n_split - 1)].p_end == 200001);
}

TEST_CASE("a small decode batch is split further until the GPU has enough blocks, not below min_part") {
  HostBatch hb;
  hb.n_seqs = 2;
  hb.max_blocks = 1;
  hb.tables = {0, 1};
  hb.add_run(0, 4095, 1);  // 4096 positions
  hb.add_run(1, 99, 1);    // 100 positions: shorter than min_part, never split
  PlanOptions o;
  o.split_len = 512;
  o.target_blocks = 528;  // 4 x 132 SMs
  o.blocks_per_work = 8;  // 8 KV heads, one head tile each
  StepPlan plan;
  plan.build(hb.view(), o);
  REQUIRE(plan.reduce().size() == 1);
  // 528 / (2 tokens x 8) = 33 parts wanted, but 4096 / 128 = 32 at most.
  CHECK(plan.reduce()[0].n_split == 32);
  CHECK(plan.work().size() == 33);
  CHECK(plan.work().back().p_end == 100);
  o.target_blocks = 0;  // off: the split length alone decides
  plan.build(hb.view(), o);
  CHECK(plan.reduce()[0].n_split == 8);
}

TEST_CASE("the packed image holds every array at 16-byte aligned offsets") {
  HostBatch hb;
  hb.n_seqs = 2;
  hb.max_blocks = 3;
  hb.tables = {4, 2, -1, 9, -1, -1};
  hb.add_run(0, 30, 1);
  hb.add_run(1, 0, 9);
  hb.out_rows = {0, 9};
  PlanOptions o;
  StepPlan plan;
  plan.build(hb.view(), o);
  const PlanLayout& L = plan.layout();
  std::vector<int32_t> img(L.total, -7);
  plan.pack(hb.view(), img.data());
  for (size_t off : {L.token_ids, L.positions, L.seq_index, L.kv_slots, L.output_rows, L.block_tables, L.work,
                     L.reduce, L.tiles, L.total})
    CHECK(off % 4 == 0);
  CHECK(img[L.positions + 0] == 30);
  CHECK(img[L.positions + 9] == 8);
  CHECK(img[L.seq_index + 5] == 1);
  CHECK(img[L.block_tables + 3] == 9);
  CHECK(img[L.output_rows + 1] == 9);
  CHECK(img[L.tiles] == 1);      // first_token of the prefill tile
  CHECK(img[L.tiles + 1] == 9);  // n_tokens
  CHECK(img[L.work] == 0);       // the decode token
  CHECK(img[L.work + 2] == 31);  // p_end
}

}  // namespace
}  // namespace llmos::cuda
