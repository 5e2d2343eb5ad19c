#include "pooled_call.hpp"

#include <boost/asio/post.hpp>

#include "api_error.hpp"
#include "metrics.hpp"

namespace llmos::http {

PooledCall::PooledCall(std::shared_ptr<ServerContext> ctx, std::string endpoint, std::function<ApiReply()> work,
                       std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor)
    : ctx_(std::move(ctx)),
      endpoint_(std::move(endpoint)),
      work_(std::move(work)),
      exchange_(std::move(exchange)),
      executor_(std::move(executor)) {}

void PooledCall::start() {
  auto back = strand_callback<PooledCall, ApiReply&&>(ctx_->gate, weak_from_this(),
                                                      [](PooledCall& c, ApiReply&& reply) { c.on_done(std::move(reply)); });
  boost::asio::post(ctx_->prompt_pool, [weak = weak_from_this(), back = std::move(back)] {
    ApiReply reply;
    {
      auto self = weak.lock();
      if (!self) return;  // the client went away
      reply = self->work_();
    }
    back(std::move(reply));
  });
}

void PooledCall::on_done(ApiReply reply) {
  ctx_->metrics.count_request(endpoint_, outcome_of_status(reply.status));
  if (cancelled_) return;
  if (auto ex = exchange_.lock()) ex->reply(std::move(reply));
}

}  // namespace llmos::http
