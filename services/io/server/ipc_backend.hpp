// IpcBackend: the HTTP API's GenerationBackend inside llmos-io, over the running
// system. Model lists and statistics come from a snapshot the I/O thread keeps
// fresh from the kernel (so an HTTP thread never waits on another process);
// prompts are tokenized on the calling thread with the model's cached
// ModelText; generations, loads and unloads are posted to the I/O thread and
// run there as IoServer streams and kernel calls. Thread-safe. Owned by
// IoServer, which it borrows.
#pragma once
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "llmos/http/generation_backend.hpp"
#include "model_text_cache.hpp"

namespace llmos::io_service {

class IoServer;

// One model as the kernel last described it.
struct ModelSnapshot {
  http::ModelInfo info;
  http::ModelStats stats;
  uint32_t vocab_size = 0;
  std::string chat_template_file;  // "" = the model's own template
};

class IpcBackend final : public http::GenerationBackend {
 public:
  // The kernel counts as gone when it has not answered for this long.
  static constexpr std::chrono::milliseconds kKernelSilence{3000};

  IpcBackend(IoServer& server, boost::asio::io_context& io, ModelTextCache& texts);

  Result<std::vector<http::ModelInfo>> list_models() override;
  Result<http::PromptInfo> prompt_info(std::string_view model) override;
  Result<std::vector<int32_t>> tokenize(std::string_view model, std::span<const http::PromptPiece> pieces,
                                        bool add_bos) override;
  Result<http::GenerationHandle> submit(http::GenerationParams params, http::GenerationCallback on_event) override;
  void cancel(http::GenerationHandle handle) override;
  void load_model(http::LoadParams params, std::function<void(Status)> done) override;
  void unload_model(std::string name, std::function<void(Status)> done) override;
  bool loads_on_demand() const override { return true; }
  void ensure_model(std::string name, std::string keep_alive,
                    std::function<void(Result<http::EnsuredModel>)> done) override;
  void release_model(uint64_t reservation) override;
  Result<http::BackendStats> stats() override;

  // I/O thread: the kernel's answers.
  void set_models(std::vector<ModelSnapshot> models);
  void upsert_model(ModelSnapshot model);  // one model's news (a load or unload reply)
  void remove_model(const std::string& name);
  // The kernel's system-wide counters (its Stats reply).
  void set_system_counters(uint64_t service_restarts, const EngineCounters& engine);

 private:
  Status kernel_silent_locked() const;
  // The model named `name`, ready, with its text. REQUIRES: mu_ not held.
  Result<std::pair<ModelSnapshot, ModelTextPtr>> ready_model(std::string_view name);

  IoServer& server_;
  boost::asio::io_context& io_;
  ModelTextCache& texts_;
  mutable std::mutex mu_;
  std::vector<ModelSnapshot> models_;
  uint64_t service_restarts_ = 0;
  EngineCounters engine_;
  std::chrono::steady_clock::time_point answered_{};  // the kernel's last answer; epoch: never
};

}  // namespace llmos::io_service
