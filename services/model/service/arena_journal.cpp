#include "arena_journal.hpp"

#include <memory>

#include "llmos/ipc/kv_arena_table.hpp"

namespace llmos::model_service {
namespace {

// A full table leaves a sequence out: after a crash it is recomputed.
class ArenaJournal final : public engine::KvJournal {
 public:
  explicit ArenaJournal(std::unique_ptr<ipc::KvSequenceTable> table) : table_(std::move(table)) {}
  void commit(uint64_t id, std::span<const int32_t> tokens, std::span<const int32_t> blocks) override {
    (void)table_->put(id, tokens, blocks);
  }
  void forget(uint64_t id) override { table_->erase(id); }

 private:
  std::unique_ptr<ipc::KvSequenceTable> table_;
};

}  // namespace

ArenaHandover attach_arena_journal(engine::Engine& engine, void* table_region, const KvGeometry& layout) {
  auto table = std::make_unique<ipc::KvSequenceTable>(table_region, layout);
  ipc::KvTableContents left = table->recover();
  ArenaHandover out;
  out.torn = left.torn;
  out.corrupt = left.corrupt;
  out.found = left.entries.size();
  std::map<uint64_t, uint32_t> tokens;
  std::vector<engine::RetainedKv> retained;
  for (auto& e : left.entries) {
    out.found_tokens += e.tokens.size();
    tokens[e.request_id] = uint32_t(e.tokens.size());
    retained.push_back(engine::RetainedKv{e.request_id, std::move(e.tokens), std::move(e.blocks)});
  }
  engine.set_journal(std::make_unique<ArenaJournal>(std::move(table)));
  for (uint64_t id : engine.retain(std::move(retained))) out.kept[id] = tokens[id];
  return out;
}

}  // namespace llmos::model_service
