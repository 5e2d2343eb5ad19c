// KernelServer: llmosd's event loop. Binds the kernel's ROUTER socket, spawns
// and supervises the services, keeps the model registry, the KV arenas and the
// scheduler, and routes control messages (docs/microkernel.md has the flows).
// Everything runs on the thread that calls run() (the I/O thread, which also
// forks the services so their parent-death signal lasts as long as the kernel);
// file validation runs on a small blocking pool and posts its result back.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llmos/domain/engine_counters.hpp"
#include "llmos/ipc/domain_wire.hpp"
#include "llmos/ipc/kv_arena.hpp"
#include "llmos/ipc/log.hpp"
#include "llmos/ipc/loop_socket.hpp"
#include "llmos/kernel/clock.hpp"
#include "llmos/kernel/model_registry.hpp"
#include "llmos/kernel/model_residency.hpp"
#include "llmos/kernel/process_launcher.hpp"
#include "llmos/kernel/scheduler.hpp"
#include "llmos/kernel/supervisor.hpp"
#include "model_inspector.hpp"

namespace llmos::kernel {

struct KernelConfig {
  std::filesystem::path runtime_dir;
  std::filesystem::path bin_dir;     // where llmos-io, llmos-memory, llmos-model are
  uint64_t budget_bytes = 0;         // memory for models (weights + KV)
  uint32_t heartbeat_interval_ms = 200;
  uint32_t heartbeat_timeout_ms = 5000;
  uint32_t max_seqs_per_model = model::kDefaultKvSequences;  // sequences one model service runs at once
  uint32_t block_size = 16;          // tokens per KV block
  uint64_t memory_cap_bytes = 256ull << 20;  // llmos-memory's store
  KeepAlive keep_alive{kDefaultKeepAlive};  // how long an idle model stays loaded (--keep-alive)
  size_t max_loaded = 0;             // models loaded at once; 0 = as many as the budget holds
  std::string models_dir;            // the model store loads on demand come from; "" = none
  std::vector<std::string> io_args;  // extra flags for llmos-io (--http, --api-keys)
  pid_t watch_pid = 0;  // > 0: shut down when this process is gone (tests: $LLMOS_WATCH_PID)
  SupervisorConfig supervisor;
  SchedulerConfig scheduler;
};

class KernelServer {
 public:
  // REQUIRES: `io`, `log` outlive the server; the caller holds the runtime dir lock.
  KernelServer(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log, KernelConfig config);
  ~KernelServer();

  // Binds kernel.sock, starts the io and memory services, and starts serving.
  Status start();
  // Stops every service and then the io_context (run() returns).
  void begin_shutdown(const std::string& why);

 private:
  struct Waiter {
    std::string peer;
    uint64_t request_id = 0;
  };
  // A load whose file was inspected, waiting for idle models it evicts to be gone.
  struct PendingLoad {
    Waiter waiter;  // peer "" for a load on demand (its requests wait in load_waiters_)
    ModelSpec spec;
    std::string device;
    ModelFacts facts;
    KeepAlive keep_alive;
  };
  // A model asked for while it was unloading: loaded again once it is gone.
  struct Reload {
    ModelSpec spec;      // as it was loaded
    std::string device;  // as it was asked for
    KeepAlive keep_alive;
    std::vector<Waiter> waiters;  // ensureModel requests, answered when it is ready
  };
  struct ModelRuntime {
    std::string name;
    std::string service;  // "model:<name>"
    ModelFacts facts;
    std::string requested_device = "cpu";  // "cpu", "cuda" or "auto", as asked
    std::optional<Device> device;          // what the service runs on (from its Hello)
    uint32_t threads = 0;
    std::optional<ipc::KvArenaOwner> arena;
    bool service_up = false;   // Hello received from its current process
    bool unloading = false;    // drained; its service is being stopped
    std::optional<Waiter> load_waiter;
    std::vector<Waiter> unload_waiters;
    // From heartbeats:
    uint32_t active = 0, queued = 0;
    uint32_t kv_blocks_used = 0, kv_blocks_total = 0;
    uint64_t loaded_unix_ms = 0;  // when the load was asked for
    uint64_t tokens_total = 0;
    float tokens_per_second = 0;
    TimePoint last_heartbeat{};
    uint32_t counts_pid = 0;  // the service whose counts `counts` are
    EngineCounters counts;  // as its heartbeats report them (since it started)
  };

  // kernel_server.cpp: the loop, services, control messages, shutdown
  void on_message(ipc::DecodedMessage&& m);
  void on_hello(const ipc::DecodedMessage& m);
  void on_heartbeat(const ipc::DecodedMessage& m);
  void on_ping(const ipc::DecodedMessage& m);
  void on_list_services(const ipc::DecodedMessage& m);
  void on_stats(const ipc::DecodedMessage& m);
  void on_shutdown(const ipc::DecodedMessage& m);
  void wait_signal();
  void tick();
  void arm_tick_timer();
  void handle_supervisor_event(const SupervisorEvent& e);
  void send_error(const std::string& peer, uint64_t request_id, const Status& st);
  void send_ack(const std::string& peer, uint64_t request_id);
  Status send_to(const std::string& peer, ipc::OutgoingMessage& out);
  std::vector<std::string> service_argv(const std::string& program, std::vector<std::string> extra) const;
  void finish_shutdown_if_done();

  // kernel_models.cpp: load, unload, model failures
  void on_load(const ipc::DecodedMessage& m);
  void start_load(Waiter waiter, ModelSpec spec, uint32_t ctx, const std::string& device, KeepAlive keep_alive);
  void on_inspected(Waiter waiter, ModelSpec spec, const std::string& device, Result<ModelFacts> facts,
                    KeepAlive keep_alive);
  void begin_load(PendingLoad p);  // the load fits: reserve, start its service
  void on_unload(const ipc::DecodedMessage& m);
  void on_list_models(const ipc::DecodedMessage& m);
  void on_model_hello(ModelRuntime& model);
  void on_model_service_exit(ModelRuntime& model, const std::string& how);
  void on_model_load_error(ModelRuntime& model, const Status& st);
  void fail_model(ModelRuntime& model, const Status& why);
  void check_drained(ModelRuntime& model);
  void finish_unload(ModelRuntime& model);
  void send_progress(const Waiter& w, const std::string& name, const std::string& phase, uint64_t done);
  void fill_model_info(wire::ModelInfo::Builder out, const ModelRecord& record) const;
  void notify_io_model_gone(const std::string& name, ModelState state);
  ModelRuntime* model_of_service(std::string_view service);

  // kernel_residency.cpp: load on demand, keep-alive, eviction
  void on_ensure(const ipc::DecodedMessage& m);
  void on_release(const ipc::DecodedMessage& m);
  void answer_ready(const Waiter& w, const ModelRecord& r);  // modelInfo with a reservation for w
  void reload_after_unload(const std::string& name);  // requests came while it unloaded
  void fail_reload(const std::string& name, const Status& why);
  void admit_load(PendingLoad p);       // evicts idle models first, or waits for them, or refuses
  void retry_pending_loads();           // after an unload freed memory
  void begin_unload(const std::string& name, const std::string& why);  // ready -> draining
  void refresh_residency();             // in-flight counts from the scheduler
  void unload_expired();                // idle models past their keep-alive
  void load_failed(const Waiter& w, const std::string& name, const Status& st);
  void answer_load_waiters(const std::string& name);  // the model is ready
  bool load_in_progress(std::string_view name) const;
  void fill_residency(wire::ModelInfo::Builder out, std::string_view name) const;
  // kernel_requests.cpp: generation
  void on_submit(const ipc::DecodedMessage& m);
  void on_cancel(const ipc::DecodedMessage& m);
  void on_token_event(const ipc::DecodedMessage& m);
  void pump();
  void preempt_for_priority();  // asks model services to take batch requests off for interactive ones
  void on_preempted(const ipc::DecodedMessage& m);
  void drop_swapped(const std::string& model, uint64_t id);  // a Cancel the model service reads as "drop its swap"
  void dispatch(const TrackedRequest& r);
  void end_request(uint64_t id, wire::FinishReason reason, const Status& error);
  void cancel_all_requests(const std::string& why);
  void send_final_event(uint64_t id, wire::FinishReason reason, const Status& error, uint32_t prompt_tokens);

  boost::asio::io_context& io_;
  ipc::Context& zmq_;
  const ipc::Logger& log_;
  KernelConfig config_;
  SteadyClock clock_;
  PosixProcessLauncher launcher_;
  Supervisor supervisor_;
  ModelRegistry registry_;
  Scheduler scheduler_;
  ModelResidency residency_;
  std::unique_ptr<ipc::LoopSocket> router_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::signal_set signals_;
  boost::asio::thread_pool pool_{1};  // blocking work: model inspection

  std::map<std::string, ModelRuntime, std::less<>> models_;
  // Requests (ensureModel) waiting for a load in progress; an entry exists
  // from the start of every load until it is ready or failed.
  std::map<std::string, std::vector<Waiter>, std::less<>> load_waiters_;
  std::vector<PendingLoad> pending_loads_;
  std::map<std::string, Reload, std::less<>> reloads_;  // by model name, while it unloads
  bool unloading_expired_ = false;
  std::string token_endpoint_;   // io's PULL socket (from its Hello)
  std::string memory_endpoint_;  // memory's ROUTER socket
  bool io_up_ = false, memory_up_ = false;
  bool shutting_down_ = false;
  TimePoint started_at_{};
  TimePoint shutdown_deadline_{};
  uint64_t next_request_id_ = 1;  // for messages the kernel starts itself
  // Counters for `stats` beyond the scheduler's:
  uint64_t completed_ = 0, cancelled_ = 0, failed_ = 0;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, service_restarts_ = 0;
  EngineCounters engine_totals_;  // over every model service that ever ran
};

}  // namespace llmos::kernel
