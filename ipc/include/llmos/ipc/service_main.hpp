// What every service program's main() does the same way (llmos-io,
// llmos-memory, llmos-model): parse its flags with the same exit codes, ignore
// SIGPIPE (a vanished peer is an error value, not a signal), and run its event
// loop until SIGTERM or SIGINT. For main() only; not thread-safe.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <functional>
#include <optional>

namespace llmos::ipc {

// Parses argv into `vm`. Returns nullopt to go on, or the exit code to return:
// 0 after printing --help, 2 after naming a bad flag on stderr as
// "<program>: <problem>". Also sets SIGPIPE to ignored.
std::optional<int> parse_service_flags(const char* program, const boost::program_options::options_description& opts,
                                       boost::program_options::variables_map& vm, int argc, char** argv);

// Runs `io` until it has no more work; on SIGTERM or SIGINT calls
// `on_terminate` (which should make the loop finish, e.g. io.stop()).
void run_until_terminated(boost::asio::io_context& io, const std::function<void()>& on_terminate);

}  // namespace llmos::ipc
