#include "system_context.hpp"

namespace llmos::cli {

int report(const char* cmd, const std::string& message, int code) {
  std::fprintf(stderr, "llmos %s: %s\n", cmd, message.c_str());
  return code;
}

int report(const char* cmd, const Status& st, int code) {
  std::string m = st.message();
  if (st.code() == ErrorCode::kUnimplemented) m = "unimplemented: " + m;
  return report(cmd, m, code);
}

std::filesystem::path program_dir() { return client::program_dir(); }

Result<SystemHandle> connect_system(bool need_running) {
  SystemHandle h;
  LLMOS_ASSIGN_OR_RETURN(h.dir, client::runtime_dir());
  if (need_running && !client::running_kernel_pid(h.dir)) {
    return disconnected("llmos is not running in " + h.dir.string() + " (start it with `llmos up`)");
  }
  LLMOS_ASSIGN_OR_RETURN(auto k, client::KernelClient::connect(h.dir));
  h.kernel.emplace(std::move(k));
  return h;
}

}  // namespace llmos::cli
