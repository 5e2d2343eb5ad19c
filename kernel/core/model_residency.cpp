#include "llmos/kernel/model_residency.hpp"

#include <algorithm>
#include <cmath>

namespace llmos::kernel {
namespace {

Status unknown(std::string_view name) { return not_found("no loaded model named '" + std::string(name) + "'"); }

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

Result<KeepAlive> parse_keep_alive(std::string_view text) {
  const auto bad = [&] {
    return invalid_argument("keep_alive '" + std::string(text) +
                            "': expected seconds or a duration such as 5m, 1h30m, 0 or -1");
  };
  if (text.empty()) return bad();
  bool negative = false;
  std::string_view s = text;
  if (s[0] == '-' || s[0] == '+') negative = s[0] == '-', s.remove_prefix(1);
  if (s.empty()) return bad();
  double seconds = 0;
  bool bare_number = true;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return bad();
    char* end = nullptr;
    const std::string number(s.substr(0, i));
    const double v = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(v)) return bad();
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || s[j] == 'u')) ++j;
    const std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    double scale;
    if (unit.empty()) {
      if (!bare_number || !s.empty()) return bad();
      scale = 1;
    } else if (unit == "h") scale = 3600;
    else if (unit == "m") scale = 60;
    else if (unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "us") scale = 1e-6;
    else if (unit == "ns") scale = 1e-9;
    else return bad();
    bare_number = false;
    seconds += v * scale;
  }
  if (negative && seconds > 0) return KeepAlive::forever();
  if (seconds > 1e9) return KeepAlive::forever();  // past any plausible uptime
  return KeepAlive::after(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)));
}

std::optional<TimePoint> ResidentModel::unload_at() const {
  if (!idle() || !keep_alive.idle) return std::nullopt;
  return last_use + *keep_alive.idle;
}

void ModelResidency::add(std::string name, uint64_t bytes, KeepAlive keep_alive, TimePoint now) {
  ResidentModel m;
  m.name = name;
  m.bytes = bytes;
  m.keep_alive = keep_alive;
  m.last_use = now;
  models_[std::move(name)] = std::move(m);
}

void ModelResidency::mark_loaded(std::string_view name, TimePoint now) {
  if (auto it = models_.find(name); it != models_.end()) it->second.loading = false, it->second.last_use = now;
}

void ModelResidency::remove(std::string_view name) {
  if (auto it = models_.find(name); it != models_.end()) models_.erase(it);
  std::erase_if(reservations_, [&](const auto& r) { return r.second.model == name; });
}

Result<uint64_t> ModelResidency::reserve(std::string_view name, std::string holder) {
  auto it = models_.find(name);
  if (it == models_.end()) return unknown(name);
  ++it->second.reserved;
  const uint64_t id = next_reservation_++;
  reservations_.emplace(id, Reservation{std::string(name), std::move(holder)});
  return id;
}

bool ModelResidency::release(uint64_t id, TimePoint now) {
  auto r = reservations_.find(id);
  if (r == reservations_.end()) return false;
  if (auto it = models_.find(r->second.model); it != models_.end() && it->second.reserved > 0) {
    --it->second.reserved;
    it->second.last_use = now;
  }
  reservations_.erase(r);
  return true;
}

size_t ModelResidency::release_holder(std::string_view holder, TimePoint now) {
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : reservations_)
    if (r.holder == holder) ids.push_back(id);
  for (uint64_t id : ids) release(id, now);
  return ids.size();
}

Status ModelResidency::begin_request(std::string_view name, TimePoint now) {
  auto it = models_.find(name);
  if (it == models_.end()) return unknown(name);
  ++it->second.in_flight;
  it->second.last_use = now;
  return ok_status();
}

Status ModelResidency::end_request(std::string_view name, TimePoint now) {
  auto it = models_.find(name);
  if (it == models_.end()) return unknown(name);
  if (it->second.in_flight == 0) return internal_error("model '" + std::string(name) + "': no request to end");
  --it->second.in_flight;
  it->second.last_use = now;
  return ok_status();
}

Status ModelResidency::set_keep_alive(std::string_view name, KeepAlive keep_alive) {
  auto it = models_.find(name);
  if (it == models_.end()) return unknown(name);
  it->second.keep_alive = keep_alive;
  return ok_status();
}

Status ModelResidency::set_in_flight(std::string_view name, uint32_t in_flight, TimePoint now) {
  auto it = models_.find(name);
  if (it == models_.end()) return unknown(name);
  if (it->second.in_flight != in_flight) it->second.last_use = now;
  it->second.in_flight = in_flight;
  return ok_status();
}

std::vector<std::string> ModelResidency::expired(TimePoint now) const {
  std::vector<std::pair<TimePoint, std::string>> due;
  for (const auto& [name, m] : models_)
    if (auto at = m.unload_at(); at && *at <= now) due.emplace_back(*at, name);
  std::sort(due.begin(), due.end());
  std::vector<std::string> out;
  for (auto& d : due) out.push_back(std::move(d.second));
  return out;
}

std::optional<TimePoint> ModelResidency::next_deadline() const {
  std::optional<TimePoint> best;
  for (const auto& [name, m] : models_)
    if (auto at = m.unload_at(); at && (!best || *at < *best)) best = at;
  return best;
}

Result<EvictionPlan> ModelResidency::plan_eviction(std::string_view model, uint64_t need_bytes,
                                                   uint64_t available_bytes, uint64_t budget_bytes,
                                                   size_t max_loaded) const {
  std::vector<const ResidentModel*> idle;
  for (const auto& [name, m] : models_)
    if (m.idle()) idle.push_back(&m);
  // Kept-forever models go last; then least recently used; then the larger.
  std::sort(idle.begin(), idle.end(), [](const ResidentModel* a, const ResidentModel* b) {
    const bool fa = !a->keep_alive.idle, fb = !b->keep_alive.idle;
    if (fa != fb) return fb;
    if (a->last_use != b->last_use) return a->last_use < b->last_use;
    if (a->bytes != b->bytes) return a->bytes > b->bytes;
    return a->name < b->name;
  });
  EvictionPlan plan;
  uint64_t available = available_bytes;
  size_t loaded = models_.size();
  const auto fits = [&] { return need_bytes <= available && (max_loaded == 0 || loaded < max_loaded); };
  for (const ResidentModel* m : idle) {
    if (fits()) break;
    plan.evict.push_back(m->name);
    available += m->bytes;
    --loaded;
  }
  if (fits()) return plan;
  std::string held;
  for (const auto& [name, m] : models_) {  // what stays after every idle model went
    if (m.idle()) continue;
    held += held.empty() ? "" : ", ";
    std::string why = m.loading ? std::string("loading") : std::to_string(m.in_flight) + " request(s) in flight";
    if (!m.loading && m.reserved > 0) why += ", " + std::to_string(m.reserved) + " about to start";
    held += "'" + name + "' " + mib(m.bytes) + " (" + why + ")";
  }
  if (need_bytes > available)
    return failed("model '" + std::string(model) + "' needs " + mib(need_bytes) + " but only " + mib(available) +
                  " of the " + mib(budget_bytes) + " budget can be freed; held by " +
                  (held.empty() ? std::string("no model (it is larger than the budget)") : held));
  return failed("model '" + std::string(model) + "' cannot load: " + std::to_string(max_loaded) +
                " models may be loaded (--max-loaded) and none of them is idle; held by " + held);
}

const ResidentModel* ModelResidency::find(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<ResidentModel> ModelResidency::list() const {
  std::vector<ResidentModel> out;
  for (const auto& [name, m] : models_) out.push_back(m);
  return out;
}

}  // namespace llmos::kernel
