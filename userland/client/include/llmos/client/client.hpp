// The C++ client library: connections to a running llmos system.
// KernelClient speaks to llmosd (control: load, unload, ps, stats, shutdown);
// IoClient speaks to llmos-io (generation, sessions). Each owns its ZeroMQ
// context and socket: one thread at a time per object; open one per thread.
// Errors are Status values with the server's code (not_found, invalid_argument,
// disconnected ...) and message.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmos/client/types.hpp"
#include "llmos/common/status.hpp"

namespace llmos::client {

using Millis = std::chrono::milliseconds;

class KernelClient {
 public:
  // Connects (lazily, as ZeroMQ does) to <runtime_dir>/kernel.sock.
  static Result<KernelClient> connect(const std::filesystem::path& runtime_dir);
  KernelClient(KernelClient&&) noexcept;
  KernelClient& operator=(KernelClient&&) noexcept;
  ~KernelClient();

  // disconnected when llmosd does not answer within `timeout`.
  Result<PongInfo> ping(Millis timeout = Millis(2000));
  // Progress arrives through `progress` (may be empty) until the model is ready.
  Result<ModelInfo> load(const LoadOptions& options, std::function<void(const LoadProgress&)> progress,
                         Millis timeout = Millis(300000));
  Result<ModelInfo> unload(const std::string& name, Millis timeout = Millis(300000));
  Result<std::vector<ModelInfo>> models(Millis timeout = Millis(5000));
  Result<std::vector<ServiceInfo>> services(Millis timeout = Millis(5000));
  Result<SystemStats> stats(Millis timeout = Millis(5000));
  Status shutdown(Millis timeout = Millis(5000));

 private:
  struct State;
  explicit KernelClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class IoClient {
 public:
  static Result<IoClient> connect(const std::filesystem::path& runtime_dir);
  IoClient(IoClient&&) noexcept;
  IoClient& operator=(IoClient&&) noexcept;
  ~IoClient();

  // Streams a generation: `on_text` gets each new piece of text (whole UTF-8
  // characters) as it arrives. When `cancel` becomes true the request is
  // cancelled and the result says "cancelled". Fails with the server's error
  // (unknown model, prompt too long, bad sampling values ...), or disconnected
  // when llmos-io goes away or is silent for `idle_timeout`; then retry.
  Result<GenerateResult> generate(const GenerateOptions& options,
                                  std::function<void(std::string_view text, std::span<const uint32_t> ids)> on_text,
                                  const std::atomic<bool>* cancel = nullptr, Millis idle_timeout = Millis(120000));
  Result<PongInfo> ping(Millis timeout = Millis(2000));

  Result<std::vector<SessionInfo>> sessions(Millis timeout = Millis(5000));
  Status delete_session(const std::string& name, Millis timeout = Millis(5000));
  // Saves the conversation of `from` again under `to` (replacing it).
  Status copy_session(const std::string& from, const std::string& to, Millis timeout = Millis(5000));

 private:
  struct State;
  explicit IoClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace llmos::client
