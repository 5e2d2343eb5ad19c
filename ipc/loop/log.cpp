#include "llmos/ipc/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace llmos::ipc {

Logger::Logger(std::string process) {
  prefix_ = std::move(process) + "[" + std::to_string(::getpid()) + "]";
  const char* d = std::getenv("LLMOS_DEBUG");
  debug_ = d != nullptr && *d != '\0';
}

void Logger::write(Level level, std::string_view message) const {
  if (level == Level::kDebug && !debug_) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  tm local{};
  ::localtime_r(&tv.tv_sec, &local);
  char stamp[64];
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03d", static_cast<int>(tv.tv_usec / 1000));
  std::string line;
  line.reserve(message.size() + prefix_.size() + 48);
  line += stamp;
  line += ' ';
  line += prefix_;
  line += ' ';
  line += kNames[static_cast<int>(level)];
  line += ": ";
  line += message;
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, left);
    if (w <= 0) break;  // nowhere to log: drop it
    p += w;
    left -= size_t(w);
  }
}

}  // namespace llmos::ipc
