#include "admin_call.hpp"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "api_routes.hpp"
#include "completion_response.hpp"
#include "model_json.hpp"

namespace llmos::http {

namespace net = boost::asio;

AdminCall::AdminCall(std::shared_ptr<ServerContext> ctx, LoadParams load, std::string unload_name,
                     std::weak_ptr<Exchange> exchange, net::any_io_executor executor)
    : ctx_(std::move(ctx)),
      load_(std::move(load)),
      unload_name_(std::move(unload_name)),
      exchange_(std::move(exchange)),
      executor_(std::move(executor)) {}

void AdminCall::start() {
  auto done = strand_callback<AdminCall, Status>(ctx_->gate, weak_from_this(),
                                                 [](AdminCall& a, Status st) { a.on_done(st); });
  if (unload_name_.empty()) {
    ctx_->backend.load_model(load_, std::move(done));
  } else {
    ctx_->backend.unload_model(unload_name_, std::move(done));
  }
}

void AdminCall::on_done(const Status& st) {
  ApiReply reply;
  if (!st.ok()) {
    reply = error_reply(api_error_from_status(st));
  } else if (!unload_name_.empty()) {
    reply.body = json_text({{"name", unload_name_}, {"state", "unloaded"}});
  } else {
    nlohmann::json body = {{"name", load_.name}, {"state", "ready"}};
    if (auto models = ctx_->backend.list_models(); models.ok()) {
      for (const auto& m : *models) {
        if (m.name == load_.name) body = model_admin_json(m);
      }
    }
    reply.body = json_text(body);
  }
  ctx_->metrics.count_request("admin", outcome_of_status(reply.status));
  if (cancelled_) return;
  if (auto ex = exchange_.lock()) ex->reply(std::move(reply));
}

}  // namespace llmos::http
