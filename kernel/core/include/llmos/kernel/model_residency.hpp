// ModelResidency: which loaded models may stay in memory. Keeps each model's
// size, requests in flight, last use and keep-alive, and answers the two
// questions of load on demand: which idle models have outlived their
// keep-alive (unload them), and which to evict so a new load fits the budget
// and --max-loaded (idle ones only, least recently used first, larger first
// among equals; a model with requests in flight, reserved for a request
// about to come, or still loading never). Pure policy over names and times; owned by the kernel's I/O thread; not thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/common/status.hpp"
#include "llmos/kernel/clock.hpp"

namespace llmos::kernel {

// How long an idle model stays loaded: a duration (0 = unload as soon as it
// is idle), or forever (Ollama's keep_alive -1: never unloaded for idleness,
// and evicted only after every other idle model).
struct KeepAlive {
  std::optional<Duration> idle;  // nullopt = forever
  static KeepAlive forever() { return {std::nullopt}; }
  static KeepAlive after(Duration d) { return {d}; }
};
inline constexpr Duration kDefaultKeepAlive = std::chrono::minutes(5);
// Ollama's forms: a number of seconds (negative = forever) or a Go duration
// string such as "5m", "1h30m", "10s", "0", "-1". invalid_argument naming the text.
Result<KeepAlive> parse_keep_alive(std::string_view text);

struct ResidentModel {
  std::string name;
  uint64_t bytes = 0;
  bool loading = true;       // until mark_loaded
  uint32_t in_flight = 0;    // requests running or queued on it
  uint32_t reserved = 0;     // reservations not yet consumed or released
  TimePoint last_use{};
  KeepAlive keep_alive{kDefaultKeepAlive};
  // When it will be unloaded if nothing uses it: nullopt while busy, reserved or kept forever.
  std::optional<TimePoint> unload_at() const;
  bool idle() const { return !loading && in_flight == 0 && reserved == 0; }
};

struct EvictionPlan {
  std::vector<std::string> evict;  // unload these (in this order) first
};

class ModelResidency {
 public:
  // A load began: `bytes` reserved, in use by the load itself until mark_loaded.
  void add(std::string name, uint64_t bytes, KeepAlive keep_alive, TimePoint now);
  void mark_loaded(std::string_view name, TimePoint now);
  void remove(std::string_view name);

  // A request starts / ends on the model (ends refresh last use). A request may
  // change the model's keep-alive (Ollama's per-request keep_alive).
  Status begin_request(std::string_view name, TimePoint now);
  Status end_request(std::string_view name, TimePoint now);
  Status set_keep_alive(std::string_view name, KeepAlive keep_alive);
  // The count of requests in flight as the kernel's scheduler sees it (the
  // kernel mirrors it after each change); going to 0 refreshes last use.
  Status set_in_flight(std::string_view name, uint32_t in_flight, TimePoint now);

  // A hold on a loaded (or loading) model for a request that has been told it
  // is ready but has not been submitted yet: while held, the model is neither
  // evicted nor unloaded for idleness. `holder` names who holds it (a peer),
  // so that all of a holder's reservations lapse when it goes away. Returns
  // the reservation's id (never 0, never reused); not_found for an unknown model.
  Result<uint64_t> reserve(std::string_view name, std::string holder);
  // The reservation is used (its request was admitted or refused) or given
  // up; the model's idle time starts again. false when `id` is unknown
  // (already released, or its model is gone): not an error.
  bool release(uint64_t id, TimePoint now);
  // Every reservation `holder` has (its service exited); how many there were.
  size_t release_holder(std::string_view holder, TimePoint now);

  // Idle models whose keep-alive has run out at `now`, oldest deadline first.
  std::vector<std::string> expired(TimePoint now) const;
  // The earliest unload_at of all models (for the kernel's timer); nullopt if none.
  std::optional<TimePoint> next_deadline() const;

  // What to unload so that a model of `need_bytes` fits in `available_bytes`
  // (the budget left now) and the loaded count stays within `max_loaded`
  // (0 = no limit). failed naming `model`, the shortfall and each model that
  // cannot be evicted (loading, or with requests in flight) when even evicting
  // every idle one is not enough.
  Result<EvictionPlan> plan_eviction(std::string_view model, uint64_t need_bytes, uint64_t available_bytes,
                                     uint64_t budget_bytes, size_t max_loaded) const;

  const ResidentModel* find(std::string_view name) const;
  std::vector<ResidentModel> list() const;  // by name

 private:
  struct Reservation {
    std::string model, holder;
  };
  std::map<std::string, ResidentModel, std::less<>> models_;
  std::map<uint64_t, Reservation> reservations_;
  uint64_t next_reservation_ = 1;
};

}  // namespace llmos::kernel
