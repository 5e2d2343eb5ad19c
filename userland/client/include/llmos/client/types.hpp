// Plain values a client gets from a running llmos system (mirrors of the wire
// messages in ipc/schema/llmos.capnp, without Cap'n Proto). Copy freely.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmos/domain/engine_counters.hpp"
#include "llmos/domain/finish_reason.hpp"
#include "llmos/domain/model_state.hpp"
#include "llmos/domain/priority.hpp"
#include "llmos/domain/sampling.hpp"

namespace llmos::client {

struct PongInfo {
  uint32_t kernel_pid = 0;  // 0 from llmos-io
  bool ready = false;       // every service registered
  uint32_t models_ready = 0;
};

struct ModelInfo {
  std::string name, path;
  ModelState state = ModelState::kLoading;
  std::string failure;  // state "failed": why
  std::string device;   // "cpu", "cuda"
  uint32_t ctx = 0, threads = 0;
  uint64_t weights_bytes = 0, kv_bytes = 0;
  uint32_t active = 0, queued = 0;
  float tokens_per_second = 0;
  uint32_t service_pid = 0;
  uint32_t vocab_size = 0;
  uint64_t last_use_unix_ms = 0;  // when its last request ended (or it became ready)
  uint64_t expires_unix_ms = 0;   // when it unloads if unused; 0 = not while busy, or never
  int64_t keep_alive_ms = 0;      // its idle keep-alive; -1 = forever
  std::string chat_template_file;  // "" = the model's own template
};

struct ServiceInfo {
  std::string name;
  std::string kind;   // "io", "memory", "model"
  uint32_t pid = 0;   // 0 when not running
  std::string state;  // "starting", "running", "restarting", "stopped"
  uint64_t uptime_ms = 0;
  uint32_t restarts = 0;
  std::string last_exit;
};

struct SystemStats {
  uint64_t uptime_ms = 0, budget_bytes = 0, reserved_bytes = 0;
  uint64_t admitted = 0, completed = 0, cancelled = 0, failed = 0, rejected = 0;
  uint64_t prompt_tokens = 0, generated_tokens = 0;
  uint32_t queued = 0, running = 0;
  uint64_t preemptions = 0, redispatches = 0, service_restarts = 0;
  uint64_t kv_blocks_total = 0;
  EngineCounters engine;  // summed over every model service that ran
};

struct LoadProgress {
  std::string name, phase;  // "validating", "reserving", "starting"
  uint64_t done = 0, total = 0;
};

struct LoadOptions {
  std::string path;  // made absolute by the client
  std::string name;  // "" = the file's stem
  uint32_t ctx = 0, threads = 0;
  std::string device = "cpu";  // "cpu", "cuda", "auto" (= cpu in this build)
  std::string chat_template_file;  // "" = the model's own; made absolute by the client
};

struct GenerateOptions {
  std::string model, prompt;
  uint32_t max_tokens = 128;
  SamplingParams sampling;  // llama.cpp's defaults
  bool random_seed = true;  // draw sampling.seed at random when sending (no seed given)
  Priority priority = Priority::kInteractive;
  std::string session;       // continue this saved session
  std::string save_session;  // save the conversation under this name
  std::string keep_alive;    // the model's keep-alive from now on ("5m", "0", "-1" = forever); "" = unchanged

  void fix_seed(uint64_t seed) {
    sampling.seed = seed;
    random_seed = false;
  }
};

struct GenerateResult {
  std::vector<uint32_t> ids;     // generated token ids
  std::string text;
  FinishReason finish_reason = FinishReason::kNone;
  uint32_t prompt_tokens = 0;
  uint32_t generated_tokens = 0;
};

struct SessionInfo {
  std::string name, model;
  uint32_t tokens = 0;
  uint64_t bytes = 0;
  uint64_t saved_unix_ms = 0;
};

}  // namespace llmos::client
