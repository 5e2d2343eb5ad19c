// `llmos-bench ipc`: what the service path costs. Message round trips and
// messages/s over the real sockets (kernel.sock, io.sock), and decode tokens/s
// through llmos-io and llmos-model against the same engine in-process (as
// `generate --local`). Uses the system in --runtime-dir when one runs there,
// else starts a temporary one (llmosd from --bin-dir, default: beside the
// running program) and stops it at the end.
#pragma once

namespace llmos::client {

// argv[0] is the subcommand name ("ipc"). Returns the exit code.
int run_ipc_bench(int argc, char** argv);

}  // namespace llmos::client
