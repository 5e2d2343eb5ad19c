// Private to llmos_client: wire messages to the library's plain types, and the
// request/reply loop both connections use. Stateless functions.
#pragma once
#include <chrono>
#include <functional>

#include "llmos/client/types.hpp"
#include "llmos/ipc/domain_wire.hpp"
#include "llmos/ipc/socket.hpp"

namespace llmos::client {

ModelInfo from_wire(wire::ModelInfo::Reader m);
ServiceInfo from_wire(wire::ServiceInfo::Reader s);
SystemStats from_wire(wire::Stats::Reader s);
PongInfo from_wire(wire::Pong::Reader p);
SessionInfo from_wire(wire::SessionInfo::Reader s);

// Sends `out` and waits for the message answering it (same request id),
// skipping others. `interim` (optional) sees each answer first and returns
// true when it was an interim one (keep waiting). An ErrorReply becomes its
// Status; silence for `timeout` is disconnected, naming `what`.
Result<ipc::DecodedMessage> call(ipc::Socket& socket, ipc::OutgoingMessage& out, std::chrono::milliseconds timeout,
                                 const std::string& what,
                                 const std::function<bool(const ipc::DecodedMessage&)>& interim = {});

// A routing id unique to this process and connection: "client:<pid>-<n>".
std::string client_routing_id();

}  // namespace llmos::client
