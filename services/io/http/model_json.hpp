// JSON shapes of a model: OpenAI's model object (GET /v1/models) and the
// admin view with state and memory (GET /admin/models). Pure functions.
#pragma once
#include <nlohmann/json.hpp>

#include "llmos/http/generation_backend.hpp"

namespace llmos::http {

// {"id", "object": "model", "created", "owned_by": "llmos"}
nlohmann::json model_openai_json(const ModelInfo& m);
// {"name", "path", "state", "device", "memory_bytes", "context_length", "created"[, "error"]}
nlohmann::json model_admin_json(const ModelInfo& m);

}  // namespace llmos::http
