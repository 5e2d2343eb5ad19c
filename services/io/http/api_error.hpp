// API errors as OpenAI shapes them: an HTTP status and the body
// {"error": {"message", "type", "param", "code"}}. Plain values; pure functions.
#pragma once
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::http {

struct ApiError {
  int status = 500;
  std::string message;
  std::string type;   // "invalid_request_error", "authentication_error", ...
  std::string code;   // "invalid_value", "model_not_found", ...
  std::string param;  // the request field at fault, "" when none
};

// By remedy: invalid argument 400, not found 404, overloaded 429,
// disconnected 503, unimplemented 501, failed/internal 500.
ApiError api_error_from_status(const Status& status);

ApiError bad_request(std::string message, std::string param = "");
ApiError unauthorized(std::string message);      // 401
ApiError forbidden(std::string message);         // 403
ApiError path_not_found(std::string message);    // 404
ApiError method_not_allowed(std::string message);  // 405
ApiError payload_too_large(std::string message);   // 413
ApiError no_model_ready(std::string message);    // 503

// The JSON body (one line, no trailing newline).
std::string api_error_body(const ApiError& error);

}  // namespace llmos::http
