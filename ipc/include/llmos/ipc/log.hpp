// Logger: one line per event on stderr, "2024-05-01 12:00:00.123 llmosd[812] warn: ...".
// Every llmos process writes its log this way; llmosd's stderr (and so its
// services') goes to <runtime dir>/llmosd.log. Each line is one write(2), so
// lines of processes sharing the file never interleave. Thread-safe.
#pragma once
#include <string>
#include <string_view>

namespace llmos::ipc {

class Logger {
 public:
  enum class Level { kDebug, kInfo, kWarn, kError };
  // `process` names the writer ("llmosd", "llmos-model:stories"). Debug lines
  // are written only when $LLMOS_DEBUG is set to a non-empty value.
  explicit Logger(std::string process);

  void debug(std::string_view message) const { write(Level::kDebug, message); }
  void info(std::string_view message) const { write(Level::kInfo, message); }
  void warn(std::string_view message) const { write(Level::kWarn, message); }
  void error(std::string_view message) const { write(Level::kError, message); }
  void write(Level level, std::string_view message) const;
  bool debug_enabled() const { return debug_; }

 private:
  std::string prefix_;  // "llmosd[812]"
  bool debug_ = false;
};

}  // namespace llmos::ipc
