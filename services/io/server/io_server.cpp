#include "io_server.hpp"

#include <unistd.h>

#include <fstream>

#include "ipc_backend.hpp"
#include "llmos/common/listen_address.hpp"
#include "llmos/ipc/runtime_dir.hpp"

namespace llmos::io_service {
namespace {

using Body = wire::Envelope::Body;
using namespace std::chrono_literals;
constexpr auto kMemoryTimeout = 5s;

}  // namespace

IoServer::IoServer(boost::asio::io_context& io, ipc::Context& zmq, const ipc::Logger& log,
                   std::filesystem::path runtime_dir, IoOptions options)
    : io_(io),
      zmq_(zmq),
      log_(log),
      runtime_dir_(std::move(runtime_dir)),
      texts_(io),
      timer_(io),
      options_(std::move(options)),
      http_retry_(io) {
  id_base_ = uint64_t(uint32_t(::getpid())) << 32;
}

IoServer::~IoServer() { stop(); }

void IoServer::stop() {
  http_retry_.cancel();
  if (!http_server_) return;
  http_server_->stop();  // joins the HTTP threads: nothing calls backend_ after this
  http_server_.reset();
  std::error_code ec;
  std::filesystem::remove(runtime_dir_ / "http.url", ec);
}

Status IoServer::start() {
  LLMOS_ASSIGN_OR_RETURN(std::string client_ep, ipc::ipc_endpoint(runtime_dir_, ipc::kClientSocket));
  LLMOS_ASSIGN_OR_RETURN(std::string token_ep, ipc::ipc_endpoint(runtime_dir_, ipc::kTokenSocket));
  LLMOS_ASSIGN_OR_RETURN(std::string kernel_ep, ipc::ipc_endpoint(runtime_dir_, ipc::kKernelSocket));

  ipc::SocketOptions co;
  co.send_timeout = 100ms;  // a client that does not read for this long is dropped
  co.send_hwm = 100000;
  co.recv_hwm = 10000;
  co.limits.max_message_bytes = 8 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto clients, ipc::Socket::bind(zmq_, ipc::SocketType::kRouter, client_ep, co));
  clients_ = std::make_unique<ipc::LoopSocket>(io_, std::move(clients), log_);
  clients_->start([this](ipc::DecodedMessage&& m) { on_client(std::move(m)); });

  ipc::SocketOptions to;
  to.recv_hwm = 100000;
  to.limits.max_message_bytes = 4 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto tokens, ipc::Socket::bind(zmq_, ipc::SocketType::kPull, token_ep, to));
  tokens_ = std::make_unique<ipc::LoopSocket>(io_, std::move(tokens), log_);
  tokens_->start([this](ipc::DecodedMessage&& m) {
    if (m.kind() == Body::TOKEN_EVENT) return on_token_event(m);
    log_.warn("dropped a '" + std::string(ipc::body_name(m.kind())) + "' message on tokens.sock");
  });

  LLMOS_RETURN_IF_ERROR(connect_memory());
  if (options_.http && options_.http->port == 0) {
    // Port 0 picks a free port; a restarted llmos-io takes its predecessor's
    // again when it can, so clients find the API where it was.
    std::ifstream in(runtime_dir_ / "http.url");
    std::string url;
    if (std::getline(in, url) && url.rfind("http://", 0) == 0) {
      if (auto previous = parse_listen_address(url.substr(7)); previous.ok()) previous_http_port_ = previous->port;
    }
  }
  std::error_code ignored;
  std::filesystem::remove(runtime_dir_ / "http.url", ignored);  // a killed predecessor's
  if (options_.http) {
    // Listening before the Hello: once `llmos up` says ready, so is the API.
    // An address in use is retried (a previous llmos-io may still hold it)
    // while the client socket serves on.
    backend_ = std::make_unique<IpcBackend>(*this, io_, texts_);
    if (Status st = start_http(); !st.ok()) {
      log_.error("HTTP API: " + st.message() + "; retrying every 2 s");
      retry_http();
    }
  }
  kernel_ = std::make_unique<ipc::KernelLink>(io_, zmq_, log_,
                                              ipc::KernelLinkConfig{wire::ServiceKind::IO, "io", token_ep});
  LLMOS_RETURN_IF_ERROR(kernel_->start(
      kernel_ep, [this](ipc::DecodedMessage&& m) { on_kernel(std::move(m)); },
      [this] {
        log_.info("ready");
        refresh_snapshot();
      },
      [this](wire::Heartbeat::Builder hb) { hb.setActiveSequences(uint32_t(streams_.size())); }));
  arm_timer();
  return ok_status();
}

Status IoServer::connect_memory() {
  LLMOS_ASSIGN_OR_RETURN(std::string ep, ipc::ipc_endpoint(runtime_dir_, ipc::kMemorySocket));
  ipc::SocketOptions o;
  o.routing_id = "io";
  o.send_timeout = 0ms;  // the memory service is there or the call fails at once
  o.limits.max_message_bytes = 64 << 20;
  o.limits.max_data_bytes = 64u << 20;
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::connect(zmq_, ipc::SocketType::kDealer, ep, o));
  memory_ = std::make_unique<ipc::LoopSocket>(io_, std::move(s), log_);
  memory_->start([this](ipc::DecodedMessage&& m) { on_memory(std::move(m)); });
  return ok_status();
}

void IoServer::arm_timer() {
  timer_.expires_after(250ms);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    refresh_snapshot();
    const auto now = std::chrono::steady_clock::now();
    for (auto it = memory_calls_.begin(); it != memory_calls_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      MemoryCall call = it->second;
      it = memory_calls_.erase(it);
      Status st = disconnected("the memory service (llmos-memory) did not answer; retry");
      if (call.kind == MemoryCall::Kind::kProxy) {
        send_client_error(call.peer, call.client_id, st);
      } else if (auto s = streams_.find(call.stream); s != streams_.end()) {
        if (call.kind == MemoryCall::Kind::kRestore) {
          end_stream(s->second, wire::FinishReason::ERROR, st);
        } else {
          s->second.reason = wire::FinishReason::ERROR;
          s->second.error = st;
          send_final(s->second);
        }
      }
    }
    arm_timer();
  });
}

void IoServer::send_client_error(const std::string& peer, uint64_t id, const Status& st) {
  ipc::OutgoingMessage out(id);
  ipc::make_error_reply(out, st);
  (void)clients_->send_to(peer, out.builder());
}

void IoServer::on_client(ipc::DecodedMessage&& m) {
  const std::string peer(m.peer());
  if (m.request_id() == 0) {
    log_.warn("dropped a message with request id 0 from client '" + ipc::printable_peer(peer) + "'");
    return;
  }
  switch (m.kind()) {
    case Body::GENERATE: return on_generate(m);
    case Body::CANCEL: {
      auto it = by_client_.find({peer, m.request_id()});
      if (it == by_client_.end()) return;
      Stream& s = streams_.at(it->second);
      if (s.phase == Phase::kSubmitted) {
        cancel_at_kernel(s, "cancelled by the client");
      } else {
        end_stream(s, wire::FinishReason::CANCELLED, ok_status());
      }
      return;
    }
    case Body::PING: {
      ipc::OutgoingMessage out(m.request_id());
      auto pong = out.body().initPong();
      pong.setReady(kernel_ && kernel_->welcomed());
      pong.setPayload(m.body().getPing().getPayload());
      (void)clients_->send_to(peer, out.builder());
      return;
    }
    case Body::LIST_SESSIONS:
    case Body::DELETE_SESSION:
    case Body::RESTORE_SESSION:
    case Body::SAVE_SESSION:
      return proxy_to_memory(m);
    default:
      log_.warn("dropped a '" + std::string(ipc::body_name(m.kind())) + "' message from client '" +
                ipc::printable_peer(peer) + "'");
      send_client_error(peer, m.request_id(),
                        invalid_argument("llmos-io does not handle '" + std::string(ipc::body_name(m.kind())) +
                                         "' messages (control messages go to the kernel's socket)"));
  }
}

void IoServer::proxy_to_memory(const ipc::DecodedMessage& m) {
  const uint64_t id = next_id();
  capnp::MallocMessageBuilder copy;
  copy.setRoot(m.envelope());
  copy.getRoot<wire::Envelope>().setRequestId(id);
  if (Status st = memory_->send(copy); !st.ok()) {
    return send_client_error(std::string(m.peer()), m.request_id(),
                             disconnected("the memory service (llmos-memory) is not available: " + st.message()));
  }
  memory_calls_[id] = MemoryCall{MemoryCall::Kind::kProxy, 0, std::string(m.peer()), m.request_id(),
                                 std::chrono::steady_clock::now() + kMemoryTimeout};
}

void IoServer::on_memory(ipc::DecodedMessage&& m) {
  auto it = memory_calls_.find(m.request_id());
  if (it == memory_calls_.end()) return;  // answered too late
  MemoryCall call = it->second;
  memory_calls_.erase(it);
  if (call.kind == MemoryCall::Kind::kProxy) {
    capnp::MallocMessageBuilder copy;
    copy.setRoot(m.envelope());
    copy.getRoot<wire::Envelope>().setRequestId(call.client_id);
    (void)clients_->send_to(call.peer, copy);
    return;
  }
  auto s = streams_.find(call.stream);
  if (s == streams_.end()) return;
  Stream& stream = s->second;
  Status st = m.kind() == Body::ERROR_REPLY ? ipc::to_status(m.body().getErrorReply().getError()) : ok_status();
  if (call.kind == MemoryCall::Kind::kRestore) {
    if (m.kind() == Body::KV_SNAPSHOT) {
      auto snap = m.body().getKvSnapshot();
      if (ipc::to_string(snap.getModel()) != stream.model) {
        return end_stream(stream, wire::FinishReason::ERROR,
                          invalid_argument("session '" + stream.session + "' was saved with model '" +
                                           ipc::to_string(snap.getModel()) + "', not '" + stream.model + "'"));
      }
      stream.prefix = ipc::to_vector(snap.getTokenIds());
    } else if (!st.ok() && st.code() != ErrorCode::kNotFound) {
      return end_stream(stream, wire::FinishReason::ERROR, st);
    }  // not found: a new session
    submit(stream);
    return;
  }
  // kSave
  if (!st.ok()) {
    stream.reason = wire::FinishReason::ERROR;
    stream.error = Status(st.code(), "saving session '" + stream.save_session + "': " + st.message());
  }
  send_final(stream);
}

void IoServer::on_kernel(ipc::DecodedMessage&& m) {
  if (on_admin_reply(m) || on_ensure_reply(m) || on_snapshot_reply(m)) return;
  switch (m.kind()) {
    case Body::ADMITTED:
    case Body::STATS:
      return;
    case Body::MODEL_INFO: {  // news of a model: ready (cache its text), or gone (forget it)
      auto info = m.body().getModelInfo();
      const std::string name = ipc::to_string(info.getName());
      if (info.getState() == wire::ModelState::READY) {
        // The kernel checked the vocabulary's size only: bad tokens show here
        // first, and to each request for the model.
        texts_.load(name, ipc::to_string(info.getPath()), ipc::to_string(info.getChatTemplateFile()),
                    [this, name](Result<ModelTextPtr> text) {
          if (!text.ok()) log_.warn("model '" + name + "': " + text.status().to_string());
          if (text.ok() && !(*text)->prompt_info.chat_template_error.empty()) {
            log_.warn("model '" + name + "': " + (*text)->prompt_info.chat_template_error);
          }
        });
      } else {
        texts_.forget(name);
      }
      refresh_snapshot();
      return;
    }
    case Body::TOKEN_EVENT:
      return on_token_event(m);
    case Body::ERROR_REPLY: {
      Status st = ipc::to_status(m.body().getErrorReply().getError());
      if (auto q = model_queries_.find(m.request_id()); q != model_queries_.end()) {
        std::string model = q->second;
        model_queries_.erase(q);
        auto waiting = std::move(resolving_[model]);
        resolving_.erase(model);
        for (uint64_t id : waiting) {
          if (auto s = streams_.find(id); s != streams_.end()) end_stream(s->second, wire::FinishReason::ERROR, st);
        }
        return;
      }
      if (auto s = streams_.find(m.request_id()); s != streams_.end()) {
        end_stream(s->second, wire::FinishReason::ERROR, st);
      }
      return;
    }
    default:
      log_.debug("ignored a '" + std::string(ipc::body_name(m.kind())) + "' message from the kernel");
  }
}

void IoServer::on_token_event(const ipc::DecodedMessage& m) {
  auto it = streams_.find(m.request_id());
  if (it == streams_.end()) {
    log_.debug("tokens for request " + std::to_string(m.request_id()) + ", which is not ours (any more)");
    return;
  }
  auto ev = m.body().getTokenEvent();
  Status error = ev.hasError() && ev.getFinishReason() == wire::FinishReason::ERROR
                     ? ipc::to_status(ev.getError())
                     : ok_status();
  if (ev.getFinishReason() == wire::FinishReason::CANCELLED && ev.hasError()) error = ipc::to_status(ev.getError());
  on_tokens(it->second, ev.getOffset(), ipc::to_vector(ev.getIds()), ev.getDone(), ev.getFinishReason(), error);
}

}  // namespace llmos::io_service
