// POST /api/pull (Ollama's): downloads a model into the store on a thread of
// its own (PullJobs) and streams Ollama's NDJSON progress, or answers once
// when "stream" is false. The connection owns the call; a client that goes
// away cancels the download (its .partial stays for a resume, as `llmos pull`
// leaves it). PullCall methods run on the connection's strand.
#pragma once
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api_routes.hpp"
#include "exchange.hpp"
#include "llmos/common/status.hpp"
#include "server_context.hpp"

namespace llmos::http {

struct OllamaPullRequest {
  std::string model;   // http(s)://..., hf:ORG/REPO/FILE.gguf, or a stored model's name
  bool stream = true;
};

// invalid_argument naming the field: not a JSON object, "model" (or Ollama's
// older "name") missing or not a string, both given and different, "stream"
// or "insecure" not a boolean, "insecure": true (certificates are always
// checked), any other field.
Result<OllamaPullRequest> parse_ollama_pull_request(std::string_view body);

// One step of a pull, from the pulling thread to the connection's strand.
struct PullEvent {
  enum class Kind { kStage, kProgress, kDone } kind = Kind::kStage;
  std::string status;   // kStage: Ollama's status text
  uint64_t completed = 0, total = 0;  // kProgress
  Status result;        // kDone
  int http_status = 200;  // kDone: the status an error gets when nothing was streamed yet
};

class PullCall : public PendingCall, public std::enable_shared_from_this<PullCall> {
 public:
  // `key` names what the pull writes (its source URL, or the stored name);
  // `file` is shown in the progress lines, `digest` identifies the download.
  PullCall(std::shared_ptr<ServerContext> ctx, OllamaPullRequest request, std::string key, std::string file,
           std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor);
  void start() override;
  void cancel() override;
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  void on_event(PullEvent e);
  void begin_stream();
  void write_line(const std::string& line);
  void finish(const PullEvent& done);

  std::shared_ptr<ServerContext> ctx_;
  OllamaPullRequest request_;
  std::string key_;
  std::string file_;
  std::weak_ptr<Exchange> exchange_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<std::atomic<bool>> stop_ = std::make_shared<std::atomic<bool>>(false);
  bool cancelled_ = false;
  bool streaming_ = false;
  bool finished_ = false;
  std::string held_;  // lines held back until the download starts (so an early error gets its HTTP status)
};

// Routes POST /api/pull: authentication, method, the body, and the call.
Routed route_ollama_pull(const std::shared_ptr<ServerContext>& ctx, const ApiRequest& req,
                         std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor);

}  // namespace llmos::http
