// ModelService: the IPC side of llmos-model. Registers with the kernel, maps
// the KV arena (its sequence table: what a dead predecessor left goes to the
// engine to adopt) and starts the engine thread over it, turns Dispatch/Cancel
// into engine commands, streams tokens straight to llmos-io (the final event
// also to the kernel) and heartbeats with per-sequence progress. Runs on the
// io_context's thread; the engine runs on its EngineHost's thread.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine_mailbox.hpp"
#include "llmos/engine/model.hpp"
#include "llmos/host/engine_host.hpp"
#include "llmos/ipc/kv_arena.hpp"
#include "llmos/ipc/log.hpp"
#include "llmos/ipc/loop_socket.hpp"

namespace llmos::model_service {

struct ModelServiceConfig {
  std::string name;       // the model's name ("stories"); the service is "model:<name>"
  int ctx = 0;            // per-sequence context in tokens
  int max_seqs = 8;
  int step_delay_ms = 0;  // test hook, see EngineHostOptions
  // The driver runs on the CPU: the KV cache lives in the kernel's shared
  // arena. Otherwise (CUDA) the driver allocates it in device memory.
  bool kv_in_arena = true;
  bool on_cuda = false;   // reported in Hello.device
  // Preempted sequences keep their KV in llmos-memory (else: recomputed).
  bool swap_to_memory = true;
  bool prefix_cache = true;  // reuse the KV of cached prompt prefixes (LLMOS_PREFIX_CACHE=0 turns it off)
  // How long KV a dead predecessor left in the arena waits for its request to
  // be re-dispatched before its blocks are freed.
  std::chrono::milliseconds retain_grace{3000};
};

class ModelService {
 public:
  // REQUIRES: io, zmq, log and `model` outlive the service.
  ModelService(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log,
               engine::Model& model, ModelServiceConfig config);
  ~ModelService();

  // Connects to the kernel and says Hello; serving starts with the Welcome.
  Status start(const std::string& kernel_endpoint);
  // Reports a failed load to the kernel (before exiting).
  static void report_load_failure(ipc::Context& zmq, const std::string& kernel_endpoint,
                                  const std::string& service, const Status& why);
  void stop();

 private:
  struct Sequence {
    uint32_t prompt_tokens = 0;
    uint32_t generated = 0;               // ids streamed so far (offset of the next)
    std::vector<uint32_t> step_ids;       // new ids of the current drain
    std::vector<uint32_t> unreported;     // ids since the last heartbeat
    uint32_t unreported_offset = 0;
    std::vector<uint32_t> all_ids;        // every generated id, for a Preempted reply
  };
  void on_kernel_message(ipc::DecodedMessage&& m);
  void on_welcome(const ipc::DecodedMessage& m);
  void on_dispatch(const ipc::DecodedMessage& m);
  void adopt_arena_table(engine::Engine& eng, const KvGeometry& layout);
  Status connect_tokens(const std::string& endpoint);
  void wait_engine();
  void drain_engine();
  void send_tokens(uint64_t id, Sequence& seq, bool done, int finish_reason, const Status& error);
  void send_preempted(uint64_t id, Sequence& seq, int kv_kept);
  void send_heartbeat();
  void arm_heartbeat();

  boost::asio::io_context& io_;
  ipc::Context& zmq_;
  const ipc::Logger& log_;
  engine::Model& model_;
  ModelServiceConfig config_;
  std::string service_name_;
  std::unique_ptr<ipc::LoopSocket> kernel_;
  std::optional<ipc::Socket> tokens_;  // PUSH to llmos-io
  std::string tokens_endpoint_;
  std::optional<ipc::KvArenaMapping> arena_;
  EngineMailbox mailbox_;                  // outlives host_, which calls it
  std::unique_ptr<host::EngineHost> host_;
  std::optional<boost::asio::posix::stream_descriptor> engine_fd_;
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer retain_timer_;
  std::map<uint64_t, uint32_t> left_in_arena_;  // request -> tokens of KV a predecessor left (for the log)
  uint32_t heartbeat_interval_ms_ = 200;
  std::map<uint64_t, Sequence> sequences_;
  uint64_t next_request_id_ = 1;
  bool welcomed_ = false;
};

}  // namespace llmos::model_service
