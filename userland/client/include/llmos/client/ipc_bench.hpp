// `llmos-bench ipc`: what the service path costs. Message round trips and
// messages/s over the real sockets (kernel.sock, io.sock), and decode tokens/s
// through llmos-io and llmos-model against the same engine in-process (as
// `generate --local`). Uses the system in --runtime-dir when one runs there,
// else starts a temporary one (llmosd from --bin-dir, default: beside the
// running program) and stops it at the end.
#pragma once
#include <filesystem>
#include <string>

#include "llmos/common/status.hpp"

namespace llmos::client {

struct DecodeRate {
  double tokens_per_second = 0;  // between the first and the last token
  double first_token_ms = 0;     // from the request
  int tokens = 0;
};

// One greedy stream of `tokens` through llmos-io and the model service of
// `model` in the system in `dir`.
Result<DecodeRate> service_decode(const std::filesystem::path& dir, const std::string& model,
                                  const std::string& prompt, int tokens);
// The same stream in this process, as `generate --local` runs it (and
// detokenizes, as llmos-io does).
Result<DecodeRate> local_decode(const std::string& path, const std::string& prompt, int tokens, int threads, int ctx);

// argv[0] is the subcommand name ("ipc"). Returns the exit code.
int run_ipc_bench(int argc, char** argv);

}  // namespace llmos::client
