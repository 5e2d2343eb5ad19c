#include "on_demand_call.hpp"

namespace llmos::http {

OnDemandCall::OnDemandCall(std::shared_ptr<ServerContext> ctx, std::string model, std::string keep_alive,
                           std::function<Routed(const std::string&)> then,
                           std::function<ApiReply(const Status&)> on_error, std::weak_ptr<Exchange> exchange,
                           boost::asio::any_io_executor executor)
    : ctx_(std::move(ctx)),
      model_(std::move(model)),
      keep_alive_(std::move(keep_alive)),
      then_(std::move(then)),
      on_error_(std::move(on_error)),
      exchange_(std::move(exchange)),
      executor_(std::move(executor)) {}

void OnDemandCall::start() {
  if (unload_) {
    ctx_->backend.unload_model(model_, strand_callback<OnDemandCall, Status>(
                                           ctx_->gate, weak_from_this(), [](OnDemandCall& c, Status st) {
                                             if (st.ok() || st.code() == ErrorCode::kNotFound) {
                                               c.on_ready(c.model_);
                                             } else {
                                               c.on_ready(st);
                                             }
                                           }));
    return;
  }
  ctx_->backend.ensure_model(model_, keep_alive_,
                             strand_callback<OnDemandCall, Result<std::string>>(
                                 ctx_->gate, weak_from_this(),
                                 [](OnDemandCall& c, Result<std::string> loaded) { c.on_ready(std::move(loaded)); }));
}

void OnDemandCall::cancel() {
  // The load goes on (other requests may wait for it); the request does not.
  cancelled_ = true;
  if (next_) next_->cancel();
}

void OnDemandCall::on_ready(Result<std::string> loaded) {
  if (cancelled_) return;
  auto ex = exchange_.lock();
  if (!ex) return;
  if (!loaded.ok()) return ex->reply(on_error_(loaded.status()));
  Routed routed = then_(*loaded);
  if (routed.reply) return ex->reply(std::move(*routed.reply));
  next_ = std::move(routed.call);
  if (next_) next_->start();
}

}  // namespace llmos::http
