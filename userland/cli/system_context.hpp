// What the system commands of `llmos` share: finding the runtime directory
// and the programs beside `llmos`, reporting errors in the CLI's style, and
// connecting to a running system. Plain functions; single-threaded CLI use.
#pragma once
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"

namespace llmos::cli {

// "llmos <cmd>: <message>" on stderr; returns `code`.
int report(const char* cmd, const std::string& message, int code = 1);
int report(const char* cmd, const Status& st, int code = 1);

// The folder holding the running `llmos` (and llmosd and the services).
std::filesystem::path program_dir();

// The runtime directory, and a kernel client for the system running there:
// fails with a message that says to run `llmos up` when none runs.
struct SystemHandle {
  std::filesystem::path dir;
  std::optional<client::KernelClient> kernel;
};
Result<SystemHandle> connect_system(bool need_running = true);

}  // namespace llmos::cli
