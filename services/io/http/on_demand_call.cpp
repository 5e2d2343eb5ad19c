#include "on_demand_call.hpp"

#include <boost/asio/post.hpp>

namespace llmos::http {

OnDemandCall::OnDemandCall(std::shared_ptr<ServerContext> ctx, std::string model, std::string keep_alive,
                           std::function<Routed(const EnsuredModel&)> then,
                           std::function<ApiReply(const Status&)> on_error, std::weak_ptr<Exchange> exchange,
                           boost::asio::any_io_executor executor)
    : ctx_(std::move(ctx)),
      model_(std::move(model)),
      keep_alive_(std::move(keep_alive)),
      then_(std::move(then)),
      on_error_(std::move(on_error)),
      exchange_(std::move(exchange)),
      executor_(std::move(executor)) {}

OnDemandCall::~OnDemandCall() {
  if (reservation_ == 0) return;
  GenerationBackend& backend = ctx_->backend;
  const uint64_t reservation = reservation_;
  ctx_->gate->run([&] { backend.release_model(reservation); });
}

void OnDemandCall::start() {
  if (unload_) {
    ctx_->backend.unload_model(model_, strand_callback<OnDemandCall, Status>(
                                           ctx_->gate, weak_from_this(), [](OnDemandCall& c, Status st) {
                                             if (st.ok() || st.code() == ErrorCode::kNotFound) {
                                               c.on_ready(EnsuredModel{c.model_, 0});
                                             } else {
                                               c.on_ready(st);
                                             }
                                           }));
    return;
  }
  // As strand_callback, except that a reservation nobody takes (the request
  // went away while the model loaded) is released at once.
  ctx_->backend.ensure_model(
      model_, keep_alive_,
      [gate = ctx_->gate, backend = &ctx_->backend, weak = weak_from_this()](Result<EnsuredModel> loaded) {
        gate->run([&] {
          const uint64_t reservation = loaded.ok() ? loaded->reservation : 0;
          auto target = weak.lock();
          if (!target) {
            if (reservation) backend->release_model(reservation);
            return;
          }
          if (reservation) target->reservation_ = reservation;  // its destructor releases it
          boost::asio::post(target->executor(), [weak, loaded = std::move(loaded)]() mutable {
            if (auto t = weak.lock()) t->on_ready(std::move(loaded));
          });
        });
      });
}

void OnDemandCall::cancel() {
  // The load goes on (other requests may wait for it); the request does not.
  cancelled_ = true;
  if (next_) next_->cancel();
}

void OnDemandCall::on_ready(Result<EnsuredModel> loaded) {
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
