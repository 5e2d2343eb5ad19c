// Status and Result<T>: errors as values at module boundaries (conventions.md, rule 5).
// A Status owns its message; a Result<T> owns either a T or a non-ok Status.
// Both are plain values: safe to move between threads, not to share mutably.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace llmos {

// Errors are classified by what the caller should do about them; the same
// codes travel in the IPC schema (ipc/schema). Values are stable on the wire.
enum class ErrorCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,  // the input is wrong: fix it, do not retry as is
  kNotFound = 2,         // the named thing does not exist
  kOverloaded = 3,       // back off and retry later
  kDisconnected = 4,     // the peer went away: retry elsewhere / reconnect
  kUnimplemented = 5,    // not supported by this build or device
  kFailed = 6,           // the operation failed (I/O error, resource limit)
  kInternal = 7,         // our bug
};

std::string_view error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>", or "ok".
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status ok_status() { return Status(); }
inline Status invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status overloaded(std::string m) { return {ErrorCode::kOverloaded, std::move(m)}; }
inline Status disconnected(std::string m) { return {ErrorCode::kDisconnected, std::move(m)}; }
inline Status unimplemented(std::string m) { return {ErrorCode::kUnimplemented, std::move(m)}; }
inline Status failed(std::string m) { return {ErrorCode::kFailed, std::move(m)}; }
inline Status internal_error(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
// failed("<what>: <strerror(errno)>") for a failed system call.
Status errno_status(std::string_view what);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(ErrorCode::kInternal, "Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace llmos

#define LLMOS_CONCAT_INNER_(a, b) a##b
#define LLMOS_CONCAT_(a, b) LLMOS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define LLMOS_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::llmos::Status llmos_status_ = (expr);         \
    if (!llmos_status_.ok()) return llmos_status_;  \
  } while (0)

// `LLMOS_ASSIGN_OR_RETURN(auto x, f());` binds the value or returns the error.
#define LLMOS_ASSIGN_OR_RETURN(lhs, expr) \
  LLMOS_ASSIGN_OR_RETURN_IMPL_(LLMOS_CONCAT_(llmos_result_, __LINE__), lhs, expr)
#define LLMOS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// A caller's bug (precondition) or our bug (invariant): print and abort.
#define LLMOS_REQUIRE(cond, msg)                                                             \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: precondition failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   msg);                                                                     \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
#define LLMOS_ASSERT(cond)                                                                \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: internal error: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
