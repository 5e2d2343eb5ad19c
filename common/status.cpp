#include "llmos/common/status.hpp"

#include <cerrno>
#include <cstring>

namespace llmos {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kDisconnected: return "disconnected";
    case ErrorCode::kUnimplemented: return "unimplemented";
    case ErrorCode::kFailed: return "failed";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string s(error_code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

Status errno_status(std::string_view what) {
  int e = errno;
  std::string m(what);
  m += ": ";
  m += std::strerror(e);
  return failed(std::move(m));
}

}  // namespace llmos
