// The engine's journal in the KV arena's sequence table, and the hand-over of
// what a dead predecessor left there to a new engine. attach_arena_journal runs
// once, before the engine thread starts; the journal then belongs to the engine
// and is used on its thread only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>

#include "llmos/engine/engine.hpp"
#include "llmos/ipc/kv_arena.hpp"

namespace llmos::model_service {

struct ArenaHandover {
  std::map<uint64_t, uint32_t> kept;  // request -> tokens of KV its engine now holds for it
  size_t found = 0;                   // valid entries in the table
  size_t found_tokens = 0;
  int torn = 0, corrupt = 0;          // slots ignored (and cleared)
};

// Reads the sequence table at `table_region` (KvArenaMapping::table()) of an
// arena with `layout`, hands its entries to `engine` (Engine::retain) and makes
// the table the engine's journal.
ArenaHandover attach_arena_journal(engine::Engine& engine, void* table_region, const KvGeometry& layout);

}  // namespace llmos::model_service
