#include "llmos/common/listen_address.hpp"

namespace llmos {

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto bad = [&] {
    std::string message = "'";  // appended, not "'" + ...: GCC 12 warns falsely (-Wrestrict) on that
    message.append(text).append("' is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080, :8080)");
    return invalid_argument(std::move(message));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad();
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  const std::string_view p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos) return bad();
  const unsigned long n = std::stoul(std::string(p));
  if (n > 65535) return bad();
  return ListenAddress{std::move(host), uint16_t(n)};
}

}  // namespace llmos
