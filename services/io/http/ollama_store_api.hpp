// The part of Ollama's API that the model store answers on its own, beside the
// OpenAI API on the same server: GET and HEAD / ("Ollama is running"),
// GET /api/version, GET /api/tags, POST /api/show, DELETE /api/delete,
// POST /api/copy (docs/http-api.md). Errors are Ollama's {"error": "..."}.
// Stateless functions over the store folder (the store locks its changes): thread-safe.
#pragma once
#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "exchange.hpp"

namespace llmos::http {

// The version /api/version reports: the Ollama API level these routes follow
// (clients check it before using newer fields).
inline constexpr std::string_view kOllamaApiVersion = "0.6.0";

// True for the paths above (whatever the method).
bool is_ollama_store_path(std::string_view path);

// The reply for one of those paths; `models_dir` "" = no store (an empty list,
// and 404 for a model). 405 for another method.
ApiReply ollama_store_reply(const std::string& models_dir, boost::beast::http::verb method, std::string_view path,
                            std::string_view body);

}  // namespace llmos::http
