// --http values as users write them: the forms that listen, and the mistakes
// refused with the text quoted.
#include <doctest/doctest.h>

#include "llmos/common/listen_address.hpp"

namespace llmos {
namespace {

TEST_CASE("ADDR:PORT, [V6]:PORT and :PORT give the host and port to listen on") {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  };
  for (const Case& c : {Case{"127.0.0.1:8080", "127.0.0.1", 8080}, Case{"0.0.0.0:0", "0.0.0.0", 0},
                        Case{"[::1]:9000", "::1", 9000}, Case{":65535", "127.0.0.1", 65535},
                        Case{"localhost:1", "localhost", 1}}) {
    CAPTURE(c.text);
    auto a = parse_listen_address(c.text);
    REQUIRE_MESSAGE(a.ok(), a.status().to_string());
    CHECK(a->host == c.host);
    CHECK(a->port == c.port);
  }
}

TEST_CASE("a malformed address or port is refused, quoting what was given") {
  for (const char* text : {"", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536",
                           "127.0.0.1:123456", "127.0.0.1:-1", "[::1]:8x"}) {
    CAPTURE(text);
    auto a = parse_listen_address(text);
    REQUIRE_FALSE(a.ok());
    CHECK(a.status().code() == ErrorCode::kInvalidArgument);
    CHECK(a.status().message() ==
          "'" + std::string(text) + "' is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080, :8080)");
  }
}

}  // namespace
}  // namespace llmos
