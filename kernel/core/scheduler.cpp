#include "llmos/kernel/scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace llmos::kernel {
namespace {


}  // namespace

Status Scheduler::add_model(std::string name, ModelLimits limits) {
  if (limits.ctx == 0) return invalid_argument("model '" + name + "': context length must be positive");
  if (models_.count(name)) return invalid_argument("model '" + name + "' is already scheduled");
  ModelQueue q;
  q.limits = limits;
  models_.emplace(std::move(name), std::move(q));
  return ok_status();
}

Status Scheduler::close_model(std::string_view name) {
  auto it = models_.find(name);
  if (it == models_.end()) return not_found("no model named '" + std::string(name) + "'");
  it->second.open = false;
  return ok_status();
}

Status Scheduler::set_paused(std::string_view name, bool paused) {
  auto it = models_.find(name);
  if (it == models_.end()) return not_found("no model named '" + std::string(name) + "'");
  it->second.paused = paused;
  return ok_status();
}

std::vector<TrackedRequest> Scheduler::remove_model(std::string_view name) {
  std::vector<TrackedRequest> out;
  auto it = models_.find(name);
  if (it == models_.end()) return out;
  for (auto i = requests_.begin(); i != requests_.end();) {
    if (i->second.request.model == name) {
      if (held_by_service(i->second.state)) --total_running_;
      out.push_back(std::move(i->second));
      i = requests_.erase(i);
    } else {
      ++i;
    }
  }
  models_.erase(it);
  std::sort(out.begin(), out.end(), [](const TrackedRequest& a, const TrackedRequest& b) {
    return a.admission_order < b.admission_order;
  });
  return out;
}

Status Scheduler::submit(GenerationRequest request, TimePoint now) {
  auto reject = [&](Status st) {
    ++counters_.rejected;
    return st;
  };
  const std::string& model = request.model;
  const std::string who = "request " + std::to_string(request.id);
  if (request.id == 0) return reject(invalid_argument("request id 0 is reserved"));
  auto it = models_.find(model);
  if (it == models_.end()) return reject(not_found("no model named '" + model + "' is loaded"));
  ModelQueue& q = it->second;
  if (!q.open) {
    return reject(not_found("model '" + model + "' is being unloaded and admits no new requests"));
  }
  if (requests_.count(request.id)) return reject(invalid_argument(who + " is already admitted"));
  // The errors below go back to the client, who knows the request by its own id.
  if (request.prompt.empty()) return reject(invalid_argument("the prompt is empty"));
  if (request.prompt.size() >= q.limits.ctx) {
    return reject(invalid_argument("a prompt of " + std::to_string(request.prompt.size()) +
                                   " tokens does not fit the context of " +
                                   std::to_string(q.limits.ctx) + " tokens of model '" + model + "'"));
  }
  Status sampling = validate_sampling(request.sampling);
  if (sampling.ok()) sampling = validate_max_tokens(request.max_tokens);
  if (!sampling.ok()) return reject(invalid_argument(sampling.message()));
  if (q.interactive.size() + q.batch.size() >= config_.max_queued_per_model) {
    return reject(overloaded("model '" + model + "' has " +
                             std::to_string(q.interactive.size() + q.batch.size()) +
                             " requests queued, its limit; retry later"));
  }
  TrackedRequest r;
  r.admission_order = next_admission_++;
  r.queued_since = now;
  uint64_t id = request.id;
  (request.priority == Priority::kBatch ? q.batch : q.interactive).push_back(id);
  r.request = std::move(request);
  requests_.emplace(id, std::move(r));
  ++counters_.admitted;
  return ok_status();
}

uint32_t Scheduler::running_cap(const ModelQueue& q) const {
  return q.limits.max_running ? q.limits.max_running : config_.max_running_per_model;
}

std::optional<std::pair<std::deque<uint64_t>*, bool>> Scheduler::next_of(ModelQueue& q,
                                                                         TimePoint now) {
  if (!q.batch.empty()) {
    const TrackedRequest& oldest = requests_.at(q.batch.front());
    bool aged = now - oldest.queued_since >= config_.batch_max_wait;
    if (aged || q.interactive.empty()) return std::make_pair(&q.batch, aged);
  }
  if (!q.interactive.empty()) return std::make_pair(&q.interactive, true);
  return std::nullopt;
}

std::vector<TrackedRequest> Scheduler::schedule(TimePoint now) {
  std::vector<TrackedRequest> started;
  for (;;) {
    if (config_.max_running_total && total_running_ >= config_.max_running_total) break;
    ModelQueue* best = nullptr;
    std::deque<uint64_t>* best_queue = nullptr;
    bool best_urgent = false;
    for (auto& [name, q] : models_) {
      if (q.paused || q.running.size() >= running_cap(q)) continue;
      auto next = next_of(q, now);
      if (!next) continue;
      bool urgent = next->second;
      // Urgent work first; then the model running the fewest sequences (fair
      // share); then the one served least recently (round robin).
      bool better = !best || (urgent != best_urgent ? urgent
                              : q.running.size() != best->running.size()
                                  ? q.running.size() < best->running.size()
                                  : q.last_served < best->last_served);
      if (better) {
        best = &q;
        best_queue = next->first;
        best_urgent = urgent;
      }
    }
    if (!best) break;
    uint64_t id = best_queue->front();
    best_queue->pop_front();
    TrackedRequest& r = requests_.at(id);
    LLMOS_ASSERT(r.state == RequestState::kQueued || r.state == RequestState::kPreempted);
    r.state = RequestState::kRunning;
    ++r.dispatches;
    best->running.insert(id);
    best->last_served = ++round_;
    ++total_running_;
    started.push_back(r);
  }
  return started;
}

std::optional<uint64_t> Scheduler::choose_preemption_victim(std::string_view model,
                                                            std::optional<uint64_t> except) const {
  auto it = models_.find(model);
  if (it == models_.end()) return std::nullopt;
  const TrackedRequest* victim = nullptr;
  for (uint64_t id : it->second.running) {
    if (except && *except == id) continue;
    const TrackedRequest& r = requests_.at(id);
    if (r.state != RequestState::kRunning) continue;  // leaving already
    // Lower priority class first (batch > interactive), then the latest admitted.
    if (!victim || r.request.priority > victim->request.priority ||
        (r.request.priority == victim->request.priority &&
         r.admission_order > victim->admission_order)) {
      victim = &r;
    }
  }
  if (!victim) return std::nullopt;
  return victim->request.id;
}

std::optional<uint64_t> Scheduler::choose_priority_preemption(std::string_view model,
                                                              TimePoint now) const {
  auto it = models_.find(model);
  if (it == models_.end()) return std::nullopt;
  const ModelQueue& q = it->second;
  if (q.paused || q.interactive.empty() || q.running.size() < running_cap(q)) return std::nullopt;
  if (!q.batch.empty() && now - requests_.at(q.batch.front()).queued_since >= config_.batch_max_wait) {
    return std::nullopt;  // an aged batch request starts next: taking one off would only swap them
  }
  size_t making_room = 0;
  const TrackedRequest* victim = nullptr;
  for (uint64_t id : q.running) {
    const TrackedRequest& r = requests_.at(id);
    if (r.state != RequestState::kRunning) {  // preempting or cancelling: its place comes free
      ++making_room;
      continue;
    }
    if (r.request.priority != Priority::kBatch) continue;
    if (!victim || r.admission_order > victim->admission_order) victim = &r;
  }
  if (making_room >= q.interactive.size() || !victim) return std::nullopt;
  return victim->request.id;
}

const TrackedRequest* Scheduler::find(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second;
}

std::vector<uint64_t> Scheduler::request_ids(std::string_view model) const {
  std::vector<std::pair<uint64_t, uint64_t>> order;  // (admission order, id)
  for (const auto& [id, r] : requests_) {
    if (model.empty() || r.request.model == model) order.emplace_back(r.admission_order, id);
  }
  std::sort(order.begin(), order.end());
  std::vector<uint64_t> ids;
  ids.reserve(order.size());
  for (const auto& [ord, id] : order) ids.push_back(id);
  return ids;
}

std::optional<ModelLoad> Scheduler::load(std::string_view model) const {
  auto it = models_.find(model);
  if (it == models_.end()) return std::nullopt;
  const ModelQueue& q = it->second;
  return ModelLoad{static_cast<uint32_t>(q.interactive.size() + q.batch.size()),
                   static_cast<uint32_t>(q.running.size())};
}

}  // namespace llmos::kernel
