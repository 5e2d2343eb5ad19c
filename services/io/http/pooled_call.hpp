// PooledCall: a request whose whole answer is work too slow for an I/O thread
// (rendering a chat template for POST /apply-template): the work runs on the
// server's prompt pool, its reply is sent on the connection's strand and
// counted under `endpoint`. Owned by its connection; the work holds it weakly.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "exchange.hpp"
#include "server_context.hpp"

namespace llmos::http {

class PooledCall : public PendingCall, public std::enable_shared_from_this<PooledCall> {
 public:
  // `work` runs on a pool thread: it may use only what it captured and the
  // (thread-safe) backend.
  PooledCall(std::shared_ptr<ServerContext> ctx, std::string endpoint, std::function<ApiReply()> work,
             std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor);
  void start() override;
  void cancel() override { cancelled_ = true; }
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  void on_done(ApiReply reply);

  std::shared_ptr<ServerContext> ctx_;
  const std::string endpoint_;
  const std::function<ApiReply()> work_;
  std::weak_ptr<Exchange> exchange_;
  boost::asio::any_io_executor executor_;
  bool cancelled_ = false;
};

}  // namespace llmos::http
