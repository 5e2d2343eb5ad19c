// OnDemandCall: a request that asks the backend for its model first (with load
// on demand every generation request does, loaded or not). Asks the backend to
// make it ready (GenerationBackend::ensure_model: at once when loaded; after
// the unload and a new load when it is being unloaded; from the model store,
// one load for every request waiting on it, when not loaded), then routes the
// request again through `then` with the model ready, and runs what that
// answers (a reply, or the CompletionCall it makes); or unloads it (Ollama's
// keep_alive 0 without a prompt). Holds the model's reservation for as long as
// the request lives (`then` puts it into the request it submits); releases it
// when it ends. Owned by its connection; runs on its strand.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "api_routes.hpp"

namespace llmos::http {

class OnDemandCall : public PendingCall, public std::enable_shared_from_this<OnDemandCall> {
 public:
  // then(model): the request for the model loaded as model.name (it is ready
  // and reserved: a request it submits carries model.reservation);
  // on_error(status): the reply when it cannot be loaded (an unknown name: not_found).
  OnDemandCall(std::shared_ptr<ServerContext> ctx, std::string model, std::string keep_alive,
               std::function<Routed(const EnsuredModel&)> then, std::function<ApiReply(const Status&)> on_error,
               std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor);
  ~OnDemandCall() override;
  // Unloads the model (draining its requests) instead of loading it; a model
  // that is not loaded is no error. Then `then` as for a load. Before start().
  void unload_instead() { unload_ = true; }
  void start() override;
  void cancel() override;
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  void on_ready(Result<EnsuredModel> loaded);

  std::shared_ptr<ServerContext> ctx_;
  std::string model_, keep_alive_;
  std::function<Routed(const EnsuredModel&)> then_;
  std::function<ApiReply(const Status&)> on_error_;
  std::weak_ptr<Exchange> exchange_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<PendingCall> next_;  // the request itself, once the model is ready
  bool cancelled_ = false;
  bool unload_ = false;
  uint64_t reservation_ = 0;  // released when the request ends (a submit may have used it already)
};

}  // namespace llmos::http
