// IoServer: llmos-io, the front door. Clients (the shell, the client
// library, llmos-bench) talk to its ROUTER socket io.sock: `generate` is
// tokenized with the model's tokenizer and submitted to the kernel; the model
// service's TokenEvents arrive on tokens.sock (PULL), are deduplicated by
// offset (a re-dispatched request repeats tokens), detokenized and streamed
// back as TextEvents. A client that goes away has its request cancelled.
// Session messages from clients are passed on to llmos-memory. With HTTP on,
// it also serves the OpenAI-compatible API (HttpServer over IpcBackend), whose
// generations are streams like a client's. Runs on the thread that runs its
// io_context; IpcBackend crosses onto it with post().
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <functional>
#include <filesystem>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llmos/ipc/domain_wire.hpp"
#include "llmos/ipc/kernel_link.hpp"
#include "llmos/ipc/loop_socket.hpp"
#include "llmos/http/generation_backend.hpp"
#include "llmos/http/http_server.hpp"
#include "llmos/http/generation_text.hpp"
#include "model_text_cache.hpp"

namespace llmos::io_service {

class IpcBackend;

struct IoOptions {
  std::optional<http::HttpServerOptions> http;  // none: no HTTP API
};

class IoServer {
 public:
  IoServer(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log,
           std::filesystem::path runtime_dir, IoOptions options = {});
  ~IoServer();
  Status start();
  // Stops the HTTP server (its connections end, their generations are
  // cancelled) and removes http.url. Call before the io_context stops.
  void stop();

 private:
  enum class Phase { kResolving, kRestoring, kSubmitted, kSaving };
  struct HttpSink {  // where an HTTP generation's events go
    http::GenerationCallback on_event;
    http::GenerationText text;  // ended(): a stop string ended it; the kernel's end is not passed on
  };
  struct Stream {
    uint64_t id = 0;  // ours: the id of the request everywhere past llmos-io
    std::string peer;
    uint64_t client_id = 0;
    std::optional<HttpSink> http;  // set: an HTTP generation, not a client's
    std::string model, prompt, session, save_session;
    SamplingParams sampling = unfiltered_sampling();
    uint32_t max_tokens = 256;
    std::vector<uint32_t> stop_ids;   // besides the model's end-of-sequence
    Priority priority = Priority::kInteractive;
    std::string keep_alive;           // for the kernel: the model's keep-alive from now on ("" = unchanged)
    uint64_t reservation = 0;         // HTTP: the ensureModel reservation its Submit uses (0 = none)
    uint64_t shared_hold = 0;         // client: the reservation of the load it waited for, until submitted
    Phase phase = Phase::kResolving;
    ModelTextPtr text;
    std::optional<tokenizer::StreamDecoder> decoder;  // client streams (HTTP ones decode in http->text)
    std::vector<uint32_t> prefix;     // tokens of the restored session
    std::vector<uint32_t> prompt_ids; // what was submitted (prefix + prompt)
    std::vector<uint32_t> generated;  // every id received, in order
    bool client_gone = false;
    wire::FinishReason reason = wire::FinishReason::NONE;
    Status error;
    std::string final_text;          // held back while the session is saved
    std::vector<uint32_t> final_ids;
  };
  struct AdminCall {  // an HTTP load, unload or load on demand waiting for the kernel
    std::function<void(Status)> done;
    std::string model;
    std::string path;  // load
    std::function<void(Result<http::EnsuredModel>)> ensured;  // set for a load on demand: gets the loaded name
  };
  struct MemoryCall {
    enum class Kind { kRestore, kSave, kProxy } kind;
    uint64_t stream = 0;  // kRestore, kSave
    std::string peer;     // kProxy
    uint64_t client_id = 0;
    std::chrono::steady_clock::time_point deadline;
  };

  // io_server.cpp: sockets and routing
  void on_client(ipc::DecodedMessage&& m);
  void on_kernel(ipc::DecodedMessage&& m);
  void on_memory(ipc::DecodedMessage&& m);
  void on_token_event(const ipc::DecodedMessage& m);
  void proxy_to_memory(const ipc::DecodedMessage& m);
  Status connect_memory();
  void send_client_error(const std::string& peer, uint64_t id, const Status& st);
  void arm_timer();
  uint64_t next_id() { return id_base_ | (id_counter_.fetch_add(1) & 0xffffffffu); }

  // io_streams.cpp: the life of one generation
  void on_generate(const ipc::DecodedMessage& m);
  void resolve_model(const std::string& model);
  bool on_ensure_reply(const ipc::DecodedMessage& m);  // true: it was one
  void continue_stream(uint64_t id);
  void restore_session(Stream& s);
  void submit(Stream& s);
  void on_tokens(Stream& s, uint32_t offset, const std::vector<uint32_t>& ids, bool done,
                 wire::FinishReason reason, const Status& error);
  void end_stream(Stream& s, wire::FinishReason reason, const Status& error);
  void send_final(Stream& s);
  bool send_text(Stream& s, const std::string& text, const std::vector<uint32_t>& ids, bool done);
  void cancel_at_kernel(Stream& s, const std::string& why);
  void erase_stream(uint64_t id);
  void drop_hold(Stream& s);  // its request was submitted or ended: its share of a reservation goes
  void release_reservation(uint64_t reservation);  // tells the kernel

  // io_http.cpp: the HTTP API's side (IpcBackend posts these), and the
  // snapshot of models and statistics it answers from
  friend class IpcBackend;
  Status start_http();
  void retry_http();
  void write_http_url();
  void start_http_stream(uint64_t id, http::GenerationParams params, ModelTextPtr text,
                         http::GenerationCallback on_event);
  void cancel_stream(uint64_t id, const std::string& why);
  void admin_load(http::LoadParams params, std::function<void(Status)> done);
  void admin_unload(std::string name, std::function<void(Status)> done);
  void admin_ensure(std::string name, std::string keep_alive, std::function<void(Result<http::EnsuredModel>)> done);
  void on_http_tokens(Stream& s, const std::vector<uint32_t>& fresh);
  void send_http_final(Stream& s);
  bool on_admin_reply(const ipc::DecodedMessage& m);   // true: it was one
  void refresh_snapshot();
  bool on_snapshot_reply(const ipc::DecodedMessage& m);  // true: it was one

  boost::asio::io_context& io_;
  ipc::Context& zmq_;
  const ipc::Logger& log_;
  std::filesystem::path runtime_dir_;
  std::unique_ptr<ipc::LoopSocket> clients_;  // ROUTER io.sock
  std::unique_ptr<ipc::LoopSocket> tokens_;   // PULL tokens.sock
  std::unique_ptr<ipc::LoopSocket> memory_;   // DEALER to llmos-memory
  std::unique_ptr<ipc::KernelLink> kernel_;
  ModelTextCache texts_;
  boost::asio::steady_timer timer_;
  IoOptions options_;
  std::unique_ptr<IpcBackend> backend_;             // with HTTP on
  std::unique_ptr<http::HttpServer> http_server_;  // once listening
  boost::asio::steady_timer http_retry_;
  uint16_t previous_http_port_ = 0;  // --http with port 0: the port a predecessor had
  std::map<uint64_t, AdminCall> admin_calls_;
  uint64_t snapshot_models_query_ = 0, snapshot_stats_query_ = 0;

  uint64_t id_base_ = 0;
  std::atomic<uint64_t> id_counter_{1};
  std::map<uint64_t, Stream> streams_;
  std::map<std::pair<std::string, uint64_t>, uint64_t> by_client_;  // (peer, client id) -> stream
  std::map<uint64_t, std::string> model_queries_;                  // ensureModel id -> model
  std::map<std::string, std::vector<uint64_t>> resolving_;          // model -> streams waiting
  std::map<uint64_t, size_t> holds_;  // ensureModel reservation -> client streams sharing it, not yet submitted
  std::map<uint64_t, MemoryCall> memory_calls_;
};

}  // namespace llmos::io_service
