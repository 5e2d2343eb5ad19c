#include "engine_runner.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace llmos::model_service {

EngineRunner::EngineRunner(std::unique_ptr<engine::Engine> engine, int step_delay_ms)
    : engine_(std::move(engine)), step_delay_ms_(step_delay_ms) {
  signal_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  LLMOS_REQUIRE(signal_fd_ >= 0, "eventfd");
  publish(engine_->stats(), 0);
  thread_ = std::thread([this] { run(); });
}

EngineRunner::~EngineRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_.notify_one();
  thread_.join();
  Command* c = nullptr;
  while (commands_.pop(c)) delete c;  // NOLINT: owned through the queue
  RefusedSubmission* r = nullptr;
  while (refusals_.pop(r)) delete r;  // NOLINT
  ::close(signal_fd_);
}

void EngineRunner::push_command(std::unique_ptr<Command> c) {
  Command* raw = c.release();
  while (!commands_.push(raw)) std::this_thread::yield();  // full: the engine is far behind
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
  }
  cv_.notify_one();
}

void EngineRunner::submit(engine::GenerationRequest request) {
  auto c = std::make_unique<Command>();
  c->kind = Command::Kind::kSubmit;
  c->request = std::move(request);
  push_command(std::move(c));
}

void EngineRunner::cancel(uint64_t request_id) {
  auto c = std::make_unique<Command>();
  c->kind = Command::Kind::kCancel;
  c->request_id = request_id;
  push_command(std::move(c));
}

void EngineRunner::preempt(uint64_t request_id) {
  auto c = std::make_unique<Command>();
  c->kind = Command::Kind::kPreempt;
  c->request_id = request_id;
  push_command(std::move(c));
}

void EngineRunner::release_retained() {
  auto c = std::make_unique<Command>();
  c->kind = Command::Kind::kReleaseRetained;
  push_command(std::move(c));
}

std::unique_ptr<RefusedSubmission> EngineRunner::pop_refusal() {
  RefusedSubmission* r = nullptr;
  if (!refusals_.pop(r)) return nullptr;
  return std::unique_ptr<RefusedSubmission>(r);
}

void EngineRunner::clear_signal() {
  uint64_t v;
  signalled_.store(false);
  ssize_t n = ::read(signal_fd_, &v, sizeof v);
  (void)n;
}

void EngineRunner::wake_ipc() {
  if (signalled_.exchange(true)) return;
  uint64_t one = 1;
  ssize_t n = ::write(signal_fd_, &one, sizeof one);
  (void)n;
}

void EngineRunner::run() {
  std::vector<engine::TokenEvent> step_events;
  step_events.reserve(1024);
  for (;;) {
    Command* raw = nullptr;
    while (commands_.pop(raw)) {
      std::unique_ptr<Command> c(raw);
      if (c->kind == Command::Kind::kCancel) {
        engine_->cancel(c->request_id);
        continue;
      }
      if (c->kind == Command::Kind::kPreempt) {
        engine_->preempt(c->request_id);
        continue;
      }
      if (c->kind == Command::Kind::kReleaseRetained) {
        engine_->release_retained();
        publish(engine_->stats(), 0);
        continue;
      }
      const uint64_t id = c->request.id;
      Status st = engine_->submit(std::move(c->request));
      if (!st.ok()) {
        auto refused = std::make_unique<RefusedSubmission>(RefusedSubmission{id, std::move(st)});
        RefusedSubmission* r = refused.release();
        while (!refusals_.push(r)) std::this_thread::yield();
        wake_ipc();
      }
    }
    if (stop_.load()) return;
    if (!engine_->has_work()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return pending_ || stop_.load(); });
      pending_ = false;
      continue;
    }
    if (step_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(step_delay_ms_));
    step_events.clear();
    engine_->step(step_events);
    uint64_t new_tokens = 0;
    for (const auto& ev : step_events) {
      new_tokens += ev.token >= 0;
      while (!events_.push(ev)) {
        wake_ipc();
        std::this_thread::yield();  // the IPC thread drains
      }
    }
    publish(engine_->stats(), new_tokens);
    if (!step_events.empty()) wake_ipc();
  }
}

void EngineRunner::publish(const engine::EngineStats& s, uint64_t new_tokens) {
  counters_.running.store(uint32_t(s.running));
  counters_.waiting.store(uint32_t(s.waiting));
  counters_.kv_blocks_used.store(uint32_t(s.kv_blocks_used));
  counters_.kv_blocks_total.store(uint32_t(s.kv_blocks_total));
  counters_.tokens_generated.fetch_add(new_tokens);
  counters_.preemptions.store(s.preemptions);
  counters_.swaps_out.store(s.swaps_out);
  counters_.swaps_in.store(s.swaps_in);
  counters_.swap_fallbacks.store(s.swap_fallbacks);
  counters_.tokens_recomputed.store(s.tokens_recomputed);
  counters_.tokens_adopted.store(s.tokens_adopted);
  counters_.prefix_hits.store(s.prefix_hits);
  counters_.prefix_tokens.store(s.tokens_from_prefix);
}

}  // namespace llmos::model_service
