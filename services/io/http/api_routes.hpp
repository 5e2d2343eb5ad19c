// Routing of one API request: authentication, the endpoint's method, and the
// answer, now (ApiReply) or later (a PendingCall the connection starts and
// owns). Runs on the connection's strand; counts immediate replies in metrics.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <optional>
#include <string_view>

#include "exchange.hpp"
#include "server_context.hpp"

namespace llmos::http {

struct Routed {
  std::optional<ApiReply> reply;      // set for an immediate answer
  std::shared_ptr<PendingCall> call;  // set otherwise
};

// The metrics label of a path: "completions", "chat_completions", "models",
// "admin", "health", "metrics", "ollama" (generate, chat, ps, pull) or "other".
std::string_view endpoint_of(std::string_view path);

Routed route_request(const std::shared_ptr<ServerContext>& ctx, ApiRequest request,
                     std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor);

// An error reply with the OpenAI error body.
ApiReply error_reply(const struct ApiError& error);

}  // namespace llmos::http
