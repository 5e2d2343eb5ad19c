// CompletionCall: one /v1/completions or /v1/chat/completions request from
// prompt to last byte: builds the prompt (chat template, tokenization) on the
// server's prompt pool, submits it to the backend back on its strand, and
// turns the backend's events into an OpenAI response or SSE stream, counting
// metrics. Owned by its connection; runs on its strand except build_params.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "completion_request.hpp"
#include "completion_response.hpp"
#include "exchange.hpp"
#include "server_context.hpp"

namespace llmos::http {

class CompletionCall : public PendingCall, public std::enable_shared_from_this<CompletionCall> {
 public:
  // `model` is ready (route_request checked).
  CompletionCall(std::shared_ptr<ServerContext> ctx, CompletionRequest request, ModelInfo model,
                 std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor,
                 std::chrono::steady_clock::time_point received);

  void start() override;
  void cancel() override;
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  using Clock = std::chrono::steady_clock;
  // On a prompt pool thread: reads only request_, model_ and ctx_ (which the
  // strand does not change meanwhile).
  Result<GenerationParams> build_params() const;
  void submit_params(Result<GenerationParams> params);
  void begin_stream();
  void on_event(GenerationEvent&& event);
  void finish_ok(FinishReason finish, const Usage& usage);
  void finish_error(const Status& status);
  const char* endpoint() const;

  std::shared_ptr<ServerContext> ctx_;
  CompletionRequest request_;
  ModelInfo model_;
  std::weak_ptr<Exchange> exchange_;
  boost::asio::any_io_executor executor_;
  Clock::time_point received_;
  ResponseMeta meta_;
  std::optional<GenerationHandle> handle_;
  bool finished_ = false;
  bool streaming_ = false;
  std::string text_;  // the whole text, when not streaming
  int tokens_seen_ = 0;
  Clock::time_point first_token_;
  Clock::time_point last_token_;
};

}  // namespace llmos::http
