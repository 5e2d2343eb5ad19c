// StepPlan without a GPU: which tokens go to the prefill and decode kernels,
// how long contexts are split, and the packed metadata image.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "llmos/driver/testing/paged_batch.hpp"
#include "step_plan.hpp"

namespace llmos::cuda {
namespace {

using driver::testing::HostBatch;

// A batch of no tokens yet over `tables` ([n_seqs][max_blocks]).
HostBatch batch_over(int max_blocks, std::vector<int32_t> tables) {
  HostBatch hb;
  hb.n_seqs = int(tables.size()) / max_blocks;
  hb.max_blocks = max_blocks;
  hb.tables = std::move(tables);
  return hb;
}

// `count` tokens (id 7) of sequence s at consecutive positions from first_pos, slot = position.
void add_run(HostBatch& hb, int s, int first_pos, int count) {
  for (int i = 0; i < count; ++i) hb.add_token(7, first_pos + i, s, first_pos + i);
}

TEST_CASE("runs of consecutive positions become prefill tiles, short runs decode work") {
  HostBatch hb = batch_over(4, std::vector<int32_t>(12, 0));
  add_run(hb, 0, 100, 1);  // decode token
  add_run(hb, 1, 0, 70);   // a prompt chunk: tiles of 32, 32, 6
  add_run(hb, 2, 5, 3);    // a short run: 3 decode tokens
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
  HostBatch hb = batch_over(1, {0, 1});
  add_run(hb, 0, 0, 10);
  add_run(hb, 1, 0, 10);  // same positions, other sequence
  add_run(hb, 1, 20, 8);  // same sequence, a gap
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
  HostBatch hb = batch_over(1, {0, 1});
  add_run(hb, 0, 1000, 1);     // 1001 positions
  add_run(hb, 1, 200000, 1);   // capped at max_splits parts
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
  HostBatch hb = batch_over(1, {0, 1});
  add_run(hb, 0, 4095, 1);  // 4096 positions
  add_run(hb, 1, 99, 1);    // 100 positions: shorter than min_part, never split
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
  HostBatch hb = batch_over(3, {4, 2, -1, 9, -1, -1});
  add_run(hb, 0, 30, 1);
  add_run(hb, 1, 0, 9);
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
