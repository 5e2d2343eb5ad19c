#include "llmos/host/engine_host.hpp"

#include <algorithm>
#include <chrono>

namespace llmos::host {

EngineCounters EngineHostStats::engine_counters() const {
  EngineCounters c;
  for (size_t i = 0; i < kEngineCounterCount; ++i) c.values[i] = engine[i].load();
  return c;
}

struct EngineHost::Core {
  struct Command {
    enum class Kind { kSubmit, kCancel, kPreempt, kReleaseRetained } kind = Kind::kSubmit;
    engine::GenerationRequest request;  // kSubmit
    Priority priority = Priority::kInteractive;
    uint64_t request_id = 0;  // kCancel, kPreempt
  };

  Core(std::unique_ptr<engine::Engine> e, EngineListener& l, EngineHostOptions o)
      : engine(std::move(e)), listener(l), options(o) {}

  void push(Command c);
  void run();
  void apply(std::vector<Command>& commands);
  void publish(uint64_t new_tokens);

  std::unique_ptr<engine::Engine> engine;  // engine thread only
  EngineListener& listener;
  const EngineHostOptions options;
  EngineHostStats stats;
  std::atomic<uint32_t> queued{0};  // submissions in `commands`

  // Commands cross to the engine thread through this mutex-guarded list: the
  // lock is taken once per request, never per token, and the thread sleeps on
  // the condition variable when idle.
  std::mutex mu;
  std::condition_variable wake;
  std::vector<Command> commands;  // guarded by mu
  bool draining = false;          // guarded by mu
  bool stopping = false;          // guarded by mu
};

EngineHost::EngineHost(std::unique_ptr<engine::Engine> engine, EngineListener& listener, EngineHostOptions options) {
  LLMOS_REQUIRE(engine != nullptr, "an engine to host");
  core_ = std::make_shared<Core>(std::move(engine), listener, options);
  core_->publish(0);
  thread_ = std::thread([core = core_] { core->run(); });
}

EngineHost::~EngineHost() { stop(); }

const EngineHostStats& EngineHost::stats() const { return core_->stats; }

uint32_t EngineHost::waiting() const { return core_->stats.waiting.load() + core_->queued.load(); }

void EngineHost::stop() {
  std::lock_guard join(join_mu_);
  {
    std::lock_guard lock(core_->mu);
    core_->stopping = true;
  }
  core_->wake.notify_one();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // called from a listener callback: the thread ends on its own (it holds the core)
  } else {
    thread_.join();
  }
}

void EngineHost::Core::push(Command c) {
  {
    std::lock_guard lock(mu);
    if (c.kind == Command::Kind::kSubmit) queued.fetch_add(1);
    commands.push_back(std::move(c));
  }
  wake.notify_one();
}

void EngineHost::submit(engine::GenerationRequest request, Priority priority) {
  Core::Command c;
  c.kind = Core::Command::Kind::kSubmit;
  c.request = std::move(request);
  c.priority = priority;
  core_->push(std::move(c));
}

void EngineHost::cancel(uint64_t request_id) {
  Core::Command c;
  c.kind = Core::Command::Kind::kCancel;
  c.request_id = request_id;
  core_->push(std::move(c));
}

void EngineHost::preempt(uint64_t request_id) {
  Core::Command c;
  c.kind = Core::Command::Kind::kPreempt;
  c.request_id = request_id;
  core_->push(std::move(c));
}

void EngineHost::release_retained() {
  Core::Command c;
  c.kind = Core::Command::Kind::kReleaseRetained;
  core_->push(std::move(c));
}

void EngineHost::drain() {
  {
    std::lock_guard lock(core_->mu);
    core_->draining = true;
  }
  core_->wake.notify_one();
}

void EngineHost::Core::apply(std::vector<Command>& batch) {
  // Interactive submissions of this batch go first; the rest keep their order.
  std::stable_partition(batch.begin(), batch.end(), [](const Command& c) {
    return c.kind == Command::Kind::kSubmit && c.priority == Priority::kInteractive;
  });
  for (Command& c : batch) {
    switch (c.kind) {
      case Command::Kind::kSubmit: {
        queued.fetch_sub(1);
        const uint64_t id = c.request.id;
        if (Status st = engine->submit(std::move(c.request)); !st.ok()) listener.on_refused(id, std::move(st));
        break;
      }
      case Command::Kind::kCancel: engine->cancel(c.request_id); break;
      case Command::Kind::kPreempt: engine->preempt(c.request_id); break;
      case Command::Kind::kReleaseRetained: engine->release_retained(); break;
    }
  }
  batch.clear();
}

void EngineHost::Core::run() {
  std::vector<Command> batch;
  std::vector<engine::TokenEvent> events;
  events.reserve(1024);
  for (;;) {
    bool drain = false;
    {
      std::unique_lock lock(mu);
      wake.wait(lock, [&] { return stopping || draining || !commands.empty() || engine->has_work(); });
      if (stopping) return;
      batch.swap(commands);
      drain = draining;
    }
    apply(batch);
    if (!engine->has_work()) {
      publish(0);
      if (!drain) continue;
      {
        std::lock_guard lock(mu);
        if (stopping) return;
        if (!commands.empty()) continue;  // submitted while draining: they run first
      }
      engine.reset();  // frees its KV cache before the owner frees the model
      listener.on_drained();
      return;
    }
    if (options.step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.step_delay_ms));
    events.clear();
    engine->step(events);
    uint64_t new_tokens = 0;
    for (const auto& ev : events) new_tokens += ev.token >= 0;
    // Before the events: whoever sees a request's end also sees its blocks freed.
    publish(new_tokens);
    if (!events.empty()) listener.on_events(events);
  }
}

void EngineHost::Core::publish(uint64_t new_tokens) {
  const engine::EngineStats s = engine->stats();
  stats.running.store(uint32_t(s.running));
  stats.waiting.store(uint32_t(s.waiting));
  stats.kv_blocks_used.store(uint32_t(s.kv_blocks_used));
  stats.kv_blocks_total.store(uint32_t(s.kv_blocks_total));
  stats.tokens_generated.fetch_add(new_tokens);
  const EngineCounters& c = s.counters;
  for (size_t i = 0; i < kEngineCounterCount; ++i) stats.engine[i].store(c.values[i]);
}

}  // namespace llmos::host
