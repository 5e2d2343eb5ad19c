#include "memory_service.hpp"

#include <capnp/serialize.h>
#include <kj/exception.h>

namespace llmos::memory {
namespace {

using Body = wire::Envelope::Body;

// A snapshot as its own capnp message, flat (what the store keeps).
std::vector<uint8_t> encode_snapshot(wire::KvSnapshot::Reader snapshot) {
  capnp::MallocMessageBuilder b;
  b.setRoot(snapshot);
  auto words = capnp::messageToFlatArray(b);
  auto bytes = words.asBytes();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

}  // namespace

MemoryService::MemoryService(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log,
                             KvStore& store)
    : io_(io), zmq_(zmq), log_(log), store_(store) {}

Status MemoryService::start(const std::string& endpoint, const std::string& kernel_endpoint) {
  ipc::SocketOptions o;
  o.send_timeout = std::chrono::milliseconds(500);
  o.limits.max_message_bytes = 64 << 20;
  o.limits.max_data_bytes = 64u << 20;
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::bind(zmq_, ipc::SocketType::kRouter, endpoint, o));
  router_ = std::make_unique<ipc::LoopSocket>(io_, std::move(s), log_);
  router_->start([this](ipc::DecodedMessage&& m) { on_message(std::move(m)); });
  kernel_ = std::make_unique<ipc::KernelLink>(io_, zmq_, log_,
                                              ipc::KernelLinkConfig{wire::ServiceKind::MEMORY, "memory", endpoint});
  return kernel_->start(
      kernel_endpoint, [this](ipc::DecodedMessage&& m) { on_message(std::move(m)); },
      [this] {
        log_.info(std::string("ready: ") + std::to_string(store_.sessions().size()) + " saved session(s), " +
                  std::to_string(store_.used_bytes()) + " of " + std::to_string(store_.cap_bytes()) +
                  " bytes used, allocator " + host_allocator_name());
      });
}

void MemoryService::reply_status(const ipc::DecodedMessage& m, const Status& st) {
  if (m.peer().empty()) return;  // from the kernel link: nothing to answer
  ipc::OutgoingMessage out(m.request_id());
  if (st.ok()) {
    out.body().initAck();
  } else {
    ipc::make_error_reply(out, st);
  }
  (void)router_->send_to(m.peer(), out.builder());
}

void MemoryService::reply_snapshot(const ipc::DecodedMessage& m, Result<std::vector<uint8_t>> stored) {
  if (!stored.ok()) return reply_status(m, stored.status());
  ipc::OutgoingMessage out(m.request_id());
  try {
    const auto& bytes = *stored;
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(bytes.data()),
                                          bytes.size() / sizeof(capnp::word));
    capnp::FlatArrayMessageReader reader(words);
    out.body().setKvSnapshot(reader.getRoot<wire::KvSnapshot>());
  } catch (const kj::Exception& e) {
    return reply_status(m, internal_error(std::string("a stored snapshot is unreadable: ") + e.getDescription().cStr()));
  }
  (void)router_->send_to(m.peer(), out.builder());
}

void MemoryService::on_message(ipc::DecodedMessage&& m) {
  switch (m.kind()) {
    case Body::SWAP_OUT:
      return reply_status(m, store_.put_swap(m.request_id(), encode_snapshot(m.body().getSwapOut().getSnapshot())));
    case Body::SWAP_IN:
      return reply_snapshot(m, store_.get_swap(m.request_id(), m.body().getSwapIn().getRelease()));
    case Body::SWAP_DROP:
      store_.drop_swap(m.request_id());
      return reply_status(m, ok_status());
    case Body::SAVE_SESSION: {
      auto s = m.body().getSaveSession();
      return reply_status(m, store_.put_session(ipc::to_string(s.getName()), encode_snapshot(s.getSnapshot()),
                                                ipc::to_string(s.getSnapshot().getModel()),
                                                s.getSnapshot().getTokenIds().size()));
    }
    case Body::RESTORE_SESSION:
      return reply_snapshot(m, store_.get_session(ipc::to_string(m.body().getRestoreSession().getName())));
    case Body::DELETE_SESSION:
      return reply_status(m, store_.delete_session(ipc::to_string(m.body().getDeleteSession().getName())));
    case Body::LIST_SESSIONS: {
      auto list = store_.sessions();
      ipc::OutgoingMessage out(m.request_id());
      auto l = out.body().initSessionList().initSessions(uint32_t(list.size()));
      for (size_t i = 0; i < list.size(); ++i) {
        auto o = l[uint32_t(i)];
        o.setName(ipc::as_text(list[i].name));
        o.setModel(ipc::as_text(list[i].model));
        o.setTokens(list[i].tokens);
        o.setBytes(list[i].bytes);
        o.setSavedUnixMs(list[i].saved_unix_ms);
      }
      (void)router_->send_to(m.peer(), out.builder());
      return;
    }
    case Body::ACK:
    case Body::ERROR_REPLY:
      return;
    default:
      log_.warn("dropped a '" + std::string(ipc::body_name(m.kind())) + "' message from '" +
                ipc::printable_peer(m.peer()) + "': the memory service does not handle it");
      return reply_status(m, invalid_argument("the memory service does not handle '" +
                                              std::string(ipc::body_name(m.kind())) + "' messages"));
  }
}

}  // namespace llmos::memory
