// IoServer: the life of one generation: resolve the model's tokenizer,
// restore the session, tokenize and submit, stream text, save the session.
#include "io_server.hpp"

namespace llmos::io_service {
namespace {

using Body = wire::Envelope::Body;
using namespace std::chrono_literals;
constexpr auto kMemoryTimeout = 5s;

template <class List>
void set_ids(List list, const std::vector<uint32_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) list.set(uint32_t(i), ids[i]);
}

}  // namespace

void IoServer::on_generate(const ipc::DecodedMessage& m) {
  const std::string peer(m.peer());
  auto g = m.body().getGenerate();
  if (by_client_.count({peer, m.request_id()})) {
    return send_client_error(peer, m.request_id(),
                             invalid_argument("request id " + std::to_string(m.request_id()) + " is already in use"));
  }
  if (g.getModel().size() == 0) return send_client_error(peer, m.request_id(), invalid_argument("generate: no model named"));
  Stream s;
  s.id = next_id();
  s.peer = peer;
  s.client_id = m.request_id();
  s.model = ipc::to_string(g.getModel());
  s.prompt = ipc::to_string(g.getPrompt());
  s.session = ipc::to_string(g.getSession());
  s.save_session = ipc::to_string(g.getSaveSession());
  s.keep_alive = ipc::to_string(g.getKeepAlive());
  s.priority = ipc::from_wire(g.getPriority());
  auto sp = g.getSampling();
  s.sampling = ipc::from_wire(sp);
  s.max_tokens = sp.getMaxTokens();
  s.stop_ids = ipc::to_vector(sp.getStopIds());
  const uint64_t id = s.id;
  by_client_[{peer, m.request_id()}] = id;
  streams_.emplace(id, std::move(s));
  continue_stream(id);
}

void IoServer::continue_stream(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  if (!s.text) {
    // A client stream asks the kernel each time, cached tokenizer or not, as
    // HTTP requests do: a model being unloaded then waits and loads again, and
    // the reservation keeps it until the Submit.
    s.text = s.http ? texts_.find(s.model) : nullptr;
    if (!s.text) {
      resolving_[s.model].push_back(id);
      resolve_model(s.model);
      return;
    }
  }
  if (!s.session.empty() && s.phase == Phase::kResolving) return restore_session(s);
  submit(s);
}

// The kernel is asked to make sure the model is loaded (loading a stored
// model on demand); every stream waiting for the same name shares one ask.
void IoServer::resolve_model(const std::string& model) {
  for (const auto& [qid, name] : model_queries_) {
    if (name == model) return;  // a query is under way
  }
  const uint64_t qid = next_id();
  ipc::OutgoingMessage out(qid);
  out.body().initEnsureModel().setName(ipc::as_text(model));
  if (Status st = kernel_->send(out.builder()); !st.ok()) {
    auto waiting = std::move(resolving_[model]);
    resolving_.erase(model);
    for (uint64_t id : waiting) {
      if (auto s = streams_.find(id); s != streams_.end()) end_stream(s->second, wire::FinishReason::ERROR, st);
    }
    return;
  }
  model_queries_[qid] = model;
}

bool IoServer::on_ensure_reply(const ipc::DecodedMessage& m) {
  auto q = model_queries_.find(m.request_id());
  if (q == model_queries_.end()) return false;
  const std::string model = q->second;
  model_queries_.erase(q);
  auto fail_all = [&](const Status& st) {
    auto waiting = std::move(resolving_[model]);
    resolving_.erase(model);
    for (uint64_t id : waiting) {
      if (auto s = streams_.find(id); s != streams_.end()) end_stream(s->second, wire::FinishReason::ERROR, st);
    }
  };
  if (m.kind() == Body::ERROR_REPLY) {
    fail_all(ipc::to_status(m.body().getErrorReply().getError()));
    return true;
  }
  if (m.kind() != Body::MODEL_INFO) {
    fail_all(internal_error("the kernel answered ensureModel with '" + std::string(ipc::body_name(m.kind())) + "'"));
    return true;
  }
  auto info = m.body().getModelInfo();
  const std::string loaded = ipc::to_string(info.getName());  // "tiny" may be "tiny:latest"
  // The model is reserved until every stream that waited for it has been
  // submitted or has ended (each drops its share).
  const uint64_t reservation = info.getReservation();
  texts_.load(loaded, ipc::to_string(info.getPath()), ipc::to_string(info.getChatTemplateFile()),
              [this, model, loaded, reservation](Result<ModelTextPtr> text) {
    auto waiting = std::move(resolving_[model]);
    resolving_.erase(model);
    std::vector<uint64_t> going;
    for (uint64_t id : waiting) {
      auto s = streams_.find(id);
      if (s == streams_.end()) continue;
      if (!text.ok()) {
        end_stream(s->second, wire::FinishReason::ERROR, text.status());
        continue;
      }
      s->second.model = loaded;
      s->second.text = *text;
      if (reservation && s->second.shared_hold == 0) {
        s->second.shared_hold = reservation;
        ++holds_[reservation];
      }
      going.push_back(id);
    }
    if (reservation && !holds_.count(reservation)) release_reservation(reservation);  // nobody waits now
    for (uint64_t id : going) continue_stream(id);
  });
  return true;
}

void IoServer::restore_session(Stream& s) {
  s.phase = Phase::kRestoring;
  const uint64_t mid = next_id();
  ipc::OutgoingMessage out(mid);
  out.body().initRestoreSession().setName(ipc::as_text(s.session));
  if (Status st = memory_->send(out.builder()); !st.ok()) {
    return end_stream(s, wire::FinishReason::ERROR,
                      disconnected("the memory service (llmos-memory) is not available: " + st.message()));
  }
  memory_calls_[mid] = MemoryCall{MemoryCall::Kind::kRestore, s.id, {}, 0, std::chrono::steady_clock::now() + kMemoryTimeout};
}

void IoServer::submit(Stream& s) {
  const auto& tok = s.text->tok;
  if (!s.http) {  // an HTTP request arrives tokenized
    auto text_ids = tok.encode(s.prompt, /*add_bos=*/s.prefix.empty() && tok.add_bos());
    s.prompt_ids = s.prefix;
    for (int32_t t : text_ids) s.prompt_ids.push_back(uint32_t(t));
  }
  if (!s.http) s.decoder.emplace(tok);  // an HTTP stream decodes in its GenerationText
  ipc::OutgoingMessage out(s.id);
  auto sub = out.body().initSubmit();
  sub.setModel(ipc::as_text(s.model));
  set_ids(sub.initPromptIds(uint32_t(s.prompt_ids.size())), s.prompt_ids);
  auto sp = sub.initSampling();
  ipc::to_wire(s.sampling, sp);
  sp.setMaxTokens(s.max_tokens);
  std::vector<uint32_t> stops = s.stop_ids;
  if (tok.eos_id() >= 0) stops.push_back(uint32_t(tok.eos_id()));
  set_ids(sp.initStopIds(uint32_t(stops.size())), stops);
  sub.setPriority(ipc::to_wire(s.priority));
  sub.setKeepAlive(ipc::as_text(s.keep_alive));
  sub.setReservation(s.reservation);
  if (Status st = kernel_->send(out.builder()); !st.ok()) return end_stream(s, wire::FinishReason::ERROR, st);
  s.phase = Phase::kSubmitted;
  drop_hold(s);  // after the Submit: the kernel counts the request before the hold goes
}

void IoServer::drop_hold(Stream& s) {
  const uint64_t reservation = s.shared_hold;
  if (reservation == 0) return;
  s.shared_hold = 0;
  auto it = holds_.find(reservation);
  if (it == holds_.end() || --it->second > 0) return;
  holds_.erase(it);
  release_reservation(reservation);
}

void IoServer::release_reservation(uint64_t reservation) {
  if (reservation == 0) return;
  ipc::OutgoingMessage out(next_id());
  out.body().initReleaseModel().setReservation(reservation);
  (void)kernel_->send(out.builder());  // a kernel that is gone has forgotten it anyway
}

void IoServer::on_tokens(Stream& s, uint32_t offset, const std::vector<uint32_t>& ids, bool done,
                         wire::FinishReason reason, const Status& error) {
  if (s.phase != Phase::kSubmitted) return;
  std::string text;
  std::vector<uint32_t> fresh;
  if (offset > s.generated.size()) {
    log_.error("request " + std::to_string(s.id) + ": tokens at offset " + std::to_string(offset) + " but only " +
               std::to_string(s.generated.size()) + " arrived; the gap is lost");
  }
  const size_t known = offset <= s.generated.size() ? s.generated.size() - offset : 0;
  for (size_t i = known; i < ids.size(); ++i) {  // the first `known` are repeats after a re-dispatch
    if (!s.text->tok.contains(int32_t(ids[i]))) continue;
    fresh.push_back(ids[i]);
    s.generated.push_back(ids[i]);
    if (s.decoder) text += s.decoder->push(int32_t(ids[i]));
  }
  if (s.http) {
    on_http_tokens(s, fresh);
    if (done) end_stream(s, reason, error);
    return;
  }
  if (!done) {
    if (!fresh.empty()) send_text(s, text, fresh, false);
    return;
  }
  if (s.decoder) text += s.decoder->finish();
  s.final_text = std::move(text);
  s.final_ids = std::move(fresh);
  end_stream(s, reason, error);
}

void IoServer::end_stream(Stream& s, wire::FinishReason reason, const Status& error) {
  s.reason = reason;
  s.error = error;
  const bool save = !s.save_session.empty() && reason != wire::FinishReason::ERROR && s.phase == Phase::kSubmitted;
  if (!save) return send_final(s);
  s.phase = Phase::kSaving;
  const uint64_t mid = next_id();
  ipc::OutgoingMessage out(mid);
  auto save_msg = out.body().initSaveSession();
  save_msg.setName(ipc::as_text(s.save_session));
  auto snap = save_msg.initSnapshot();
  snap.setModel(ipc::as_text(s.model));
  std::vector<uint32_t> all = s.prompt_ids;
  all.insert(all.end(), s.generated.begin(), s.generated.end());
  set_ids(snap.initTokenIds(uint32_t(all.size())), all);
  snap.initData().initInline(0);  // tokens only: the KV is recomputed on restore
  if (Status st = memory_->send(out.builder()); !st.ok()) {
    s.reason = wire::FinishReason::ERROR;
    s.error = disconnected("saving session '" + s.save_session + "': the memory service is not available");
    return send_final(s);
  }
  memory_calls_[mid] = MemoryCall{MemoryCall::Kind::kSave, s.id, {}, 0, std::chrono::steady_clock::now() + kMemoryTimeout};
}

void IoServer::send_final(Stream& s) {
  if (s.http) return send_http_final(s);
  send_text(s, s.final_text, s.final_ids, true);
  erase_stream(s.id);
}

bool IoServer::send_text(Stream& s, const std::string& text, const std::vector<uint32_t>& ids, bool done) {
  if (s.client_gone) return false;
  ipc::OutgoingMessage out(s.client_id);
  auto ev = out.body().initTextEvent();
  ev.setText(ipc::as_text(text));
  set_ids(ev.initIds(uint32_t(ids.size())), ids);
  ev.setDone(done);
  ev.setPromptTokens(uint32_t(s.prompt_ids.size()));
  ev.setGeneratedTokens(uint32_t(s.generated.size()));
  if (done) {
    ev.setFinishReason(s.reason);
    if (!s.error.ok()) ipc::set_error(ev.initError(), s.error);
  }
  Status st = clients_->send_to(s.peer, out.builder());
  if (st.ok()) return true;
  s.client_gone = true;
  log_.info("client '" + ipc::printable_peer(s.peer) + "' went away (" + st.message() + ")");
  if (!done && s.phase == Phase::kSubmitted) cancel_at_kernel(s, "the client went away");
  return false;
}

void IoServer::cancel_at_kernel(Stream& s, const std::string& why) {
  ipc::OutgoingMessage out(s.id);
  out.body().initCancel().setReason(ipc::as_text(why));
  if (Status st = kernel_->send(out.builder()); !st.ok()) log_.warn("cancel: " + st.message());
}

void IoServer::erase_stream(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (!it->second.http) by_client_.erase({it->second.peer, it->second.client_id});
  drop_hold(it->second);
  streams_.erase(it);
}

}  // namespace llmos::io_service
