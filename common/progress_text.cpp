// Byte sizes and progress bars as text (progress_text.hpp).
#include "llmos/common/progress_text.hpp"

#include <cinttypes>
#include <cstdio>

namespace llmos {

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char buf[48];
  if (u == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string format_bytes_exact(uint64_t bytes) {
  std::string text = std::to_string(bytes) + " bytes";
  if (bytes >= 1024) text += " (" + format_bytes(bytes) + ")";
  return text;
}

std::string progress_bar(double fraction, int width) {
  if (width <= 0) return {};
  if (!(fraction > 0.0)) fraction = 0.0;  // also NaN
  if (fraction > 1.0) fraction = 1.0;
  const int done = static_cast<int>(fraction * width);
  return std::string(size_t(done), '#') + std::string(size_t(width - done), '.');
}

}  // namespace llmos
