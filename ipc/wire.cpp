#include "llmos/ipc/wire.hpp"

#include <capnp/schema.h>

#include <string>

namespace llmos::ipc {
namespace {

#define LLMOS_SAME_CODE(ours, theirs)                                        \
  static_assert(static_cast<unsigned>(ErrorCode::ours) ==                    \
                    static_cast<unsigned>(wire::ErrorCode::theirs),          \
                "llmos::ErrorCode::" #ours " differs from the wire ErrorCode")
LLMOS_SAME_CODE(kOk, OK);
LLMOS_SAME_CODE(kInvalidArgument, INVALID_ARGUMENT);
LLMOS_SAME_CODE(kNotFound, NOT_FOUND);
LLMOS_SAME_CODE(kOverloaded, OVERLOADED);
LLMOS_SAME_CODE(kDisconnected, DISCONNECTED);
LLMOS_SAME_CODE(kUnimplemented, UNIMPLEMENTED);
LLMOS_SAME_CODE(kFailed, FAILED);
LLMOS_SAME_CODE(kInternal, INTERNAL);
#undef LLMOS_SAME_CODE

constexpr unsigned kLastCode = static_cast<unsigned>(ErrorCode::kInternal);

}  // namespace

wire::ErrorCode to_wire(ErrorCode code) { return static_cast<wire::ErrorCode>(code); }

ErrorCode from_wire(wire::ErrorCode code) {
  auto v = static_cast<unsigned>(code);
  return v <= kLastCode ? static_cast<ErrorCode>(v) : ErrorCode::kInternal;
}

void set_error(wire::Error::Builder out, const Status& status) {
  out.setCode(to_wire(status.code()));
  out.setMessage(status.message());
}

Status to_status(wire::Error::Reader error) {
  ErrorCode code = from_wire(error.getCode());
  std::string message(error.getMessage().cStr(), error.getMessage().size());
  if (static_cast<unsigned>(error.getCode()) > kLastCode) {
    message = "unknown error code " + std::to_string(static_cast<unsigned>(error.getCode())) +
              ": " + message;
  }
  if (code == ErrorCode::kOk) return internal_error("peer sent an error with code ok: " + message);
  return Status(code, std::move(message));
}

std::string_view body_name(wire::Envelope::Body::Which which) {
  auto body = capnp::Schema::from<wire::Envelope::Body>();
  auto fields = body.getUnionFields();
  for (auto field : fields) {
    if (field.getProto().getDiscriminantValue() == static_cast<uint16_t>(which)) {
      auto name = field.getProto().getName();
      return std::string_view(name.cStr(), name.size());  // lives in the compiled-in schema
    }
  }
  return "unknown";
}

}  // namespace llmos::ipc
