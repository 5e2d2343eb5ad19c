// Starting and stopping a whole llmos system (`llmos up` / `llmos down`), and
// where it lives. Functions are thread-safe (each call is independent).
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include "llmos/client/types.hpp"
#include "llmos/common/status.hpp"

namespace llmos::client {

// The runtime directory ($LLMOS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/llmos,
// else /tmp/llmos-$UID), created with mode 0700 when missing.
Result<std::filesystem::path> runtime_dir();

struct UpOptions {
  std::filesystem::path llmosd;    // the kernel's program
  std::optional<uint64_t> budget;  // bytes for models; default: physical memory
  std::vector<std::string> kernel_args;  // more llmosd flags (--http ADDR:PORT, --api-keys FILE)
  std::chrono::milliseconds timeout{60000};
};

struct UpResult {
  PongInfo pong;
  bool already_running = false;
};

// Starts llmosd detached from this process (new session, stdin /dev/null,
// stdout and stderr appended to <dir>/llmosd.log) and returns when every
// service has registered. A system already running there is left as it is.
// Errors quote the end of llmosd.log when it exits early.
Result<UpResult> start_system(const std::filesystem::path& dir, const UpOptions& options);

struct DownResult {
  bool was_running = false;
  uint32_t kernel_pid = 0;
};

// Stops the system in `dir` (llmosd stops every service, then itself) and
// waits until llmosd has exited; removes KV arenas a killed kernel left.
Result<DownResult> stop_system(const std::filesystem::path& dir,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

// The pid written in <dir>/llmosd.lock, when a kernel holds the lock.
std::optional<uint32_t> running_kernel_pid(const std::filesystem::path& dir);

// The directory of the running program (llmosd and the services are installed
// beside `llmos` and `llmos-bench`).
std::filesystem::path program_dir();

// The system a benchmark measures: the one running in `runtime_dir` when one
// is given (failing when none runs there), else a new one in a temporary
// runtime directory, started with llmosd from `bin_dir` (default:
// program_dir()) and `kernel_args`, and stopped and removed on destruction.
// Movable, not copyable; used by one thread.
class BenchSystem {
 public:
  static Result<BenchSystem> use_or_start(const std::string& runtime_dir, const std::string& bin_dir,
                                          std::vector<std::string> kernel_args);
  BenchSystem(BenchSystem&& other) noexcept : dir_(std::move(other.dir_)), owned_(other.owned_) { other.owned_ = false; }
  BenchSystem& operator=(BenchSystem&&) = delete;
  BenchSystem(const BenchSystem&) = delete;
  ~BenchSystem();
  const std::filesystem::path& dir() const { return dir_; }
  // Loads `path` as the model "bench" (`threads` CPU threads; `ctx` 0 = the
  // model's context) and waits until it is ready.
  Result<ModelInfo> load_bench_model(const std::string& path, int threads, int ctx = 0) const;

 private:
  BenchSystem(std::filesystem::path dir, bool owned) : dir_(std::move(dir)), owned_(owned) {}
  std::filesystem::path dir_;
  bool owned_ = false;
};

// Where the system's HTTP API listens ("http://127.0.0.1:8080"), from the
// http.url file llmos-io keeps in `dir`; nullopt when it has none (--http off,
// not yet listening, or not running).
std::optional<std::string> http_url(const std::filesystem::path& dir);

// "1000000", "512K", "64M", "8G", "1T" (powers of 1024, optional "iB"/"B").
Result<uint64_t> parse_bytes(std::string_view text);

}  // namespace llmos::client
