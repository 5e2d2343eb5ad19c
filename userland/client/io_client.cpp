#include <cstring>
#include <random>

#include "convert.hpp"
#include "llmos/client/client.hpp"
#include "llmos/ipc/runtime_dir.hpp"

namespace llmos::client {
namespace {

using Body = wire::Envelope::Body;
using Clock = std::chrono::steady_clock;

}  // namespace

struct IoClient::State {
  ipc::Context context;
  std::optional<ipc::Socket> socket;
  std::optional<zmq::socket_t> monitor;  // ZMQ_EVENT_DISCONNECTED of `socket`
  uint64_t next_id = 1;
  const std::string what = "llmos-io";

  // True when the connection to llmos-io dropped since the last call.
  bool drain_monitor() {
    bool lost = false;
    for (;;) {
      zmq::message_t event;
      if (!monitor->recv(event, zmq::recv_flags::dontwait)) return lost;
      zmq::message_t address;
      if (event.more()) (void)monitor->recv(address, zmq::recv_flags::dontwait);
      if (event.size() >= 2) {
        uint16_t id = 0;
        std::memcpy(&id, event.data(), sizeof id);
        if (id == ZMQ_EVENT_DISCONNECTED) lost = true;
      }
    }
  }
};

IoClient::IoClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
IoClient::IoClient(IoClient&&) noexcept = default;
IoClient& IoClient::operator=(IoClient&&) noexcept = default;
IoClient::~IoClient() = default;

Result<IoClient> IoClient::connect(const std::filesystem::path& runtime_dir) {
  LLMOS_ASSIGN_OR_RETURN(std::string endpoint, ipc::ipc_endpoint(runtime_dir, ipc::kClientSocket));
  auto state = std::make_unique<State>();
  ipc::SocketOptions o;
  const std::string id = client_routing_id();
  o.routing_id = id;
  o.send_timeout = std::chrono::milliseconds(5000);  // covers a restart of llmos-io
  o.limits.max_message_bytes = 8 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::connect(state->context, ipc::SocketType::kDealer, endpoint, o));
  state->socket.emplace(std::move(s));
  const std::string monitor_ep = "inproc://monitor-" + id;
  if (zmq_socket_monitor(state->socket->raw().handle(), monitor_ep.c_str(), ZMQ_EVENT_DISCONNECTED) != 0) {
    return failed(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
  }
  try {
    state->monitor.emplace(state->context.raw(), ZMQ_PAIR);
    state->monitor->set(zmq::sockopt::linger, 0);
    state->monitor->connect(monitor_ep);
  } catch (const zmq::error_t& e) {
    return failed(std::string("monitor socket: ") + e.what());
  }
  return IoClient(std::move(state));
}

Result<PongInfo> IoClient::ping(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initPing();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::PONG) return internal_error("llmos-io answered ping with " + std::string(ipc::body_name(m.kind())));
  return from_wire(m.body().getPong());
}

Result<GenerateResult> IoClient::generate(const GenerateOptions& options,
                                          std::function<void(std::string_view, std::span<const uint32_t>)> on_text,
                                          const std::atomic<bool>* cancel, Millis idle_timeout) {
  State& st = *state_;
  (void)st.drain_monitor();  // a drop before this call does not concern it
  const uint64_t id = st.next_id++;
  ipc::OutgoingMessage out(id);
  auto g = out.body().initGenerate();
  g.setModel(ipc::as_text(options.model));
  g.setPrompt(ipc::as_text(options.prompt));
  auto s = g.initSampling();
  SamplingParams sampling = options.sampling;
  if (options.random_seed) sampling.seed = uint64_t(std::random_device{}()) << 32 | std::random_device{}();
  ipc::to_wire(sampling, s);
  s.setMaxTokens(options.max_tokens);
  g.setPriority(ipc::to_wire(options.priority));
  g.setSession(ipc::as_text(options.session));
  g.setSaveSession(ipc::as_text(options.save_session));
  g.setKeepAlive(ipc::as_text(options.keep_alive));
  if (Status sent = st.socket->send(out.builder()); !sent.ok()) {
    return disconnected("llmos-io is not reachable (is the system up? `llmos up`): " + sent.message());
  }

  GenerateResult result;
  bool cancel_sent = false;
  auto last_event = Clock::now();
  for (;;) {
    if (cancel && cancel->load() && !cancel_sent) {
      ipc::OutgoingMessage c(id);
      c.body().initCancel().setReason("cancelled by the user");
      (void)st.socket->send(c.builder());
      cancel_sent = true;
    }
    zmq_pollitem_t items[2] = {{st.socket->raw().handle(), 0, ZMQ_POLLIN, 0},
                               {st.monitor->handle(), 0, ZMQ_POLLIN, 0}};
    int n = zmq_poll(items, 2, 50);
    if (n < 0 && zmq_errno() != EINTR) return failed(std::string("zmq_poll: ") + zmq_strerror(zmq_errno()));
    if ((items[1].revents & ZMQ_POLLIN) && st.drain_monitor()) {
      return disconnected("lost the connection to llmos-io in the middle of the generation (it was restarted?); retry");
    }
    if (!(items[0].revents & ZMQ_POLLIN)) {
      if (Clock::now() - last_event > idle_timeout) {
        return disconnected("llmos-io sent nothing for " + std::to_string(idle_timeout.count()) + " ms");
      }
      continue;
    }
    auto m = st.socket->receive(Millis(0));
    if (!m.ok() || m->request_id() != id) continue;
    last_event = Clock::now();
    if (m->kind() == Body::ERROR_REPLY) return ipc::to_status(m->body().getErrorReply().getError());
    if (m->kind() != Body::TEXT_EVENT) continue;
    auto ev = m->body().getTextEvent();
    std::string text = ipc::to_string(ev.getText());
    std::vector<uint32_t> ids = ipc::to_vector(ev.getIds());
    result.text += text;
    result.ids.insert(result.ids.end(), ids.begin(), ids.end());
    if ((!text.empty() || !ids.empty()) && on_text) on_text(text, ids);
    if (!ev.getDone()) continue;
    result.prompt_tokens = ev.getPromptTokens();
    result.generated_tokens = ev.getGeneratedTokens();
    result.finish_reason = ipc::from_wire(ev.getFinishReason());
    if (ev.getFinishReason() == wire::FinishReason::ERROR) {
      return ev.hasError() ? ipc::to_status(ev.getError()) : internal_error("generation failed without a reason");
    }
    return result;
  }
}

Result<std::vector<SessionInfo>> IoClient::sessions(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initListSessions();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::SESSION_LIST) return internal_error("unexpected answer to listSessions");
  std::vector<SessionInfo> list;
  for (auto s : m.body().getSessionList().getSessions()) list.push_back(from_wire(s));
  return list;
}

Status IoClient::delete_session(const std::string& name, Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initDeleteSession().setName(ipc::as_text(name));
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  (void)m;
  return ok_status();
}

Status IoClient::copy_session(const std::string& from, const std::string& to, Millis timeout) {
  ipc::OutgoingMessage get(state_->next_id++);
  get.body().initRestoreSession().setName(ipc::as_text(from));
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, get, timeout, state_->what));
  if (m.kind() != Body::KV_SNAPSHOT) return internal_error("unexpected answer to restoreSession");
  ipc::OutgoingMessage put(state_->next_id++);
  auto save = put.body().initSaveSession();
  save.setName(ipc::as_text(to));
  save.setSnapshot(m.body().getKvSnapshot());
  LLMOS_ASSIGN_OR_RETURN(auto ack, call(*state_->socket, put, timeout, state_->what));
  (void)ack;
  return ok_status();
}

}  // namespace llmos::client
