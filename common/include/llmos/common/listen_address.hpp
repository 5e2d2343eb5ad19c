// ListenAddress: a TCP address to listen on as a user writes it ("127.0.0.1:8080",
// "[::1]:8080", ":8080"), parsed once for every process that takes one (llmosd
// checks --http, llmos-io and `llmos serve` listen on it). Plain values and a pure
// function: thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "llmos/common/status.hpp"

namespace llmos {

struct ListenAddress {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 address, without brackets
  uint16_t port = 8080;            // 0: any free port
};

// "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (loopback). The address is not
// resolved here (the listener checks it); invalid_argument quoting `text` when
// the form or the port is wrong.
Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace llmos
