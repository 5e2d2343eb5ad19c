// The parts of the CUDA driver a machine without a GPU can check: what
// make_cuda_driver says when there is no device, and the text form of an IPC
// handle that travels in messages.
#include <doctest/doctest.h>

#include "llmos/driver/cuda_driver.hpp"

namespace llmos::driver {
namespace {

TEST_CASE("make_cuda_driver says 'no CUDA device' and why, exactly when there is none") {
  auto d = make_cuda_driver({});
  if (!cuda_device_available()) {
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == ErrorCode::kUnimplemented);
    CHECK(d.status().message().rfind("no CUDA device: ", 0) == 0);
    CHECK(d.status().message().size() > 16);  // the CUDA runtime's reason follows
  } else {
    REQUIRE_MESSAGE(d.ok(), d.status().to_string());
    CHECK((*d)->info().name == "cuda");
    CHECK(as_cuda_driver(**d) != nullptr);
  }
}

TEST_CASE("an IPC handle survives its text form; malformed text is an invalid argument") {
  CudaIpcHandle h;
  for (size_t i = 0; i < h.bytes.size(); ++i) h.bytes[i] = uint8_t(i * 37 + 11);
  h.size = (uint64_t(3) << 32) + 12345;
  h.device = 2;
  const std::string text = h.to_string();
  CHECK(text.rfind("2:12884914233:", 0) == 0);
  auto back = CudaIpcHandle::parse(text);
  REQUIRE(back.ok());
  CHECK(back->bytes == h.bytes);
  CHECK(back->size == h.size);
  CHECK(back->device == 2);
  for (const std::string& bad : {std::string(""), std::string("2:100"), std::string("x:1:00"),
                                text.substr(0, text.size() - 1), text.substr(0, text.size() - 1) + "g"}) {
    auto r = CudaIpcHandle::parse(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace llmos::driver
