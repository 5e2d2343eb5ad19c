// AdminCall: POST /admin/models (load) and DELETE /admin/models/{name}
// (unload), answered when the backend is done. A client that goes away does
// not stop a load or unload. Owned by its connection; runs on its strand.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "exchange.hpp"
#include "server_context.hpp"

namespace llmos::http {

class AdminCall : public PendingCall, public std::enable_shared_from_this<AdminCall> {
 public:
  // Load `load` when unload_name is empty, else unload the model of that name.
  AdminCall(std::shared_ptr<ServerContext> ctx, LoadParams load, std::string unload_name,
            std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor);
  void start() override;
  void cancel() override { cancelled_ = true; }
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  void on_done(const Status& status);

  std::shared_ptr<ServerContext> ctx_;
  LoadParams load_;
  std::string unload_name_;
  std::weak_ptr<Exchange> exchange_;
  boost::asio::any_io_executor executor_;
  bool cancelled_ = false;
};

}  // namespace llmos::http
