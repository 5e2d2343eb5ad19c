#include "api_error.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace llmos::http {
namespace {

TEST_CASE("error codes map to HTTP statuses by remedy") {
  CHECK(api_error_from_status(invalid_argument("x")).status == 400);
  CHECK(api_error_from_status(not_found("x")).status == 404);
  CHECK(api_error_from_status(overloaded("x")).status == 429);
  CHECK(api_error_from_status(disconnected("x")).status == 503);
  CHECK(api_error_from_status(unimplemented("x")).status == 501);
  CHECK(api_error_from_status(failed("x")).status == 500);
  CHECK(api_error_from_status(internal_error("x")).status == 500);
  CHECK(unauthorized("x").status == 401);
  CHECK(forbidden("x").status == 403);
  CHECK(method_not_allowed("x").status == 405);
  CHECK(payload_too_large("x").status == 413);
  CHECK(no_model_ready("x").status == 503);
}

TEST_CASE("the body is OpenAI's error object") {
  const auto j = nlohmann::json::parse(api_error_body(bad_request("'n' must be 1", "n")));
  CHECK(j["error"]["message"] == "'n' must be 1");
  CHECK(j["error"]["type"] == "invalid_request_error");
  CHECK(j["error"]["code"] == "invalid_value");
  CHECK(j["error"]["param"] == "n");
  const auto k = nlohmann::json::parse(api_error_body(api_error_from_status(overloaded("busy"))));
  CHECK(k["error"]["param"].is_null());
  CHECK(k["error"]["type"] == "overloaded_error");
}

}  // namespace
}  // namespace llmos::http
