#include "api_error.hpp"

#include <nlohmann/json.hpp>

namespace llmos::http {

ApiError api_error_from_status(const Status& status) {
  const std::string& m = status.message();
  switch (status.code()) {
    case ErrorCode::kOk:
    case ErrorCode::kInternal: return {500, m, "server_error", "internal_error", ""};
    case ErrorCode::kInvalidArgument: return {400, m, "invalid_request_error", "invalid_value", ""};
    case ErrorCode::kNotFound: return {404, m, "invalid_request_error", "not_found", ""};
    case ErrorCode::kOverloaded: return {429, m, "overloaded_error", "overloaded", ""};
    case ErrorCode::kDisconnected: return {503, m, "unavailable_error", "unavailable", ""};
    case ErrorCode::kUnimplemented: return {501, m, "invalid_request_error", "unsupported", ""};
    case ErrorCode::kFailed: return {500, m, "server_error", "failed", ""};
  }
  return {500, m, "server_error", "internal_error", ""};
}

ApiError bad_request(std::string message, std::string param) {
  return {400, std::move(message), "invalid_request_error", "invalid_value", std::move(param)};
}
ApiError unauthorized(std::string message) {
  return {401, std::move(message), "authentication_error", "invalid_api_key", ""};
}
ApiError forbidden(std::string message) { return {403, std::move(message), "permission_error", "forbidden", ""}; }
ApiError path_not_found(std::string message) {
  return {404, std::move(message), "invalid_request_error", "not_found", ""};
}
ApiError method_not_allowed(std::string message) {
  return {405, std::move(message), "invalid_request_error", "method_not_allowed", ""};
}
ApiError payload_too_large(std::string message) {
  return {413, std::move(message), "invalid_request_error", "request_too_large", ""};
}
ApiError no_model_ready(std::string message) {
  return {503, std::move(message), "unavailable_error", "model_not_ready", ""};
}

std::string api_error_body(const ApiError& e) {
  nlohmann::json j;
  j["error"] = {{"message", e.message},
                {"type", e.type},
                {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
                {"code", e.code}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llmos::http
