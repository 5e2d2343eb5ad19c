#include "model_json.hpp"

namespace llmos::http {

nlohmann::json model_openai_json(const ModelInfo& m) {
  return {{"id", m.name}, {"object", "model"}, {"created", m.created}, {"owned_by", "llmos"}};
}

nlohmann::json model_admin_json(const ModelInfo& m) {
  nlohmann::json j = {{"name", m.name},
                      {"path", m.path},
                      {"state", std::string(model_state_name(m.state))},
                      {"device", m.device},
                      {"memory_bytes", m.memory_bytes},
                      {"context_length", m.context_length},
                      {"created", m.created}};
  if (!m.error.empty()) j["error"] = m.error;
  return j;
}

}  // namespace llmos::http
