#include <unistd.h>

#include <cstdlib>

#include "convert.hpp"
#include "llmos/client/client.hpp"
#include "llmos/ipc/runtime_dir.hpp"

namespace llmos::client {

using Body = wire::Envelope::Body;

struct KernelClient::State {
  ipc::Context context;
  std::optional<ipc::Socket> socket;
  uint64_t next_id = 1;
  const std::string what = "llmosd";
};

KernelClient::KernelClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
KernelClient::KernelClient(KernelClient&&) noexcept = default;
KernelClient& KernelClient::operator=(KernelClient&&) noexcept = default;
KernelClient::~KernelClient() = default;

Result<KernelClient> KernelClient::connect(const std::filesystem::path& runtime_dir) {
  LLMOS_ASSIGN_OR_RETURN(std::string endpoint, ipc::ipc_endpoint(runtime_dir, ipc::kKernelSocket));
  auto state = std::make_unique<State>();
  ipc::SocketOptions o;
  o.routing_id = client_routing_id();
  o.send_timeout = std::chrono::milliseconds(1000);
  o.limits.max_message_bytes = 4 << 20;
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::connect(state->context, ipc::SocketType::kDealer, endpoint, o));
  state->socket.emplace(std::move(s));
  return KernelClient(std::move(state));
}

Result<PongInfo> KernelClient::ping(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initPing();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::PONG) return internal_error("llmosd answered ping with " + std::string(ipc::body_name(m.kind())));
  return from_wire(m.body().getPong());
}

Result<ModelInfo> KernelClient::load(const LoadOptions& options, std::function<void(const LoadProgress&)> progress,
                                     Millis timeout) {
  if (options.device != "cpu" && options.device != "cuda" && options.device != "auto") {
    return invalid_argument("--device must be cpu, cuda or auto, not '" + options.device + "'");
  }
  std::error_code ec;
  auto path = std::filesystem::absolute(options.path, ec);
  if (ec) return invalid_argument("model path '" + options.path + "': " + ec.message());
  ipc::OutgoingMessage out(state_->next_id++);
  auto l = out.body().initLoadModel();
  const std::string p = path.lexically_normal().string();
  l.setPath(ipc::as_text(p));
  l.setName(ipc::as_text(options.name));
  l.setCtx(options.ctx);
  l.setThreads(options.threads);
  std::string template_file;
  if (!options.chat_template_file.empty()) {
    auto t = std::filesystem::absolute(options.chat_template_file, ec);
    if (ec) return invalid_argument("chat template file '" + options.chat_template_file + "': " + ec.message());
    template_file = t.lexically_normal().string();
  }
  l.setChatTemplateFile(ipc::as_text(template_file));
  l.setDevice(options.device == "cuda"   ? wire::Device::CUDA
              : options.device == "auto" ? wire::Device::AUTO
                                         : wire::Device::CPU);
  auto interim = [&](const ipc::DecodedMessage& m) {
    if (m.kind() != Body::LOAD_PROGRESS) return false;
    auto lp = m.body().getLoadProgress();
    if (progress) {
      progress(LoadProgress{ipc::to_string(lp.getName()), ipc::to_string(lp.getPhase()), lp.getDone(), lp.getTotal()});
    }
    return true;
  };
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what, interim));
  if (m.kind() != Body::MODEL_INFO) return internal_error("llmosd answered load with " + std::string(ipc::body_name(m.kind())));
  return from_wire(m.body().getModelInfo());
}

Result<ModelInfo> KernelClient::unload(const std::string& name, Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initUnloadModel().setName(ipc::as_text(name));
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::MODEL_INFO) return internal_error("llmosd answered unload with " + std::string(ipc::body_name(m.kind())));
  return from_wire(m.body().getModelInfo());
}

Result<std::vector<ModelInfo>> KernelClient::models(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initListModels();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::MODEL_LIST) return internal_error("unexpected answer to listModels");
  std::vector<ModelInfo> list;
  for (auto info : m.body().getModelList().getModels()) list.push_back(from_wire(info));
  return list;
}

Result<std::vector<ServiceInfo>> KernelClient::services(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initListServices();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::SERVICE_LIST) return internal_error("unexpected answer to listServices");
  std::vector<ServiceInfo> list;
  for (auto info : m.body().getServiceList().getServices()) list.push_back(from_wire(info));
  return list;
}

Result<SystemStats> KernelClient::stats(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initGetStats();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  if (m.kind() != Body::STATS) return internal_error("unexpected answer to getStats");
  return from_wire(m.body().getStats());
}

Status KernelClient::shutdown(Millis timeout) {
  ipc::OutgoingMessage out(state_->next_id++);
  out.body().initShutdown();
  LLMOS_ASSIGN_OR_RETURN(auto m, call(*state_->socket, out, timeout, state_->what));
  (void)m;
  return ok_status();
}

}  // namespace llmos::client
