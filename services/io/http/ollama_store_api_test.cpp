// Ollama's store endpoints over a real loopback server: /, /api/version,
// /api/tags, /api/show, /api/copy, /api/delete against a store holding a
// synthetic model, in the shapes the `ollama` clients read.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake_backend.hpp"
#include "llmos/http/http_server.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/modelgen/model_gen.hpp"
#include "ollama_store_api.hpp"
#include "test_client.hpp"

namespace llmos::http {
namespace {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Connection;

struct StoreServer {
  std::string dir = "/tmp/llmos_ollama_store_test_" + std::to_string(::getpid());
  testing::FakeBackend backend;
  std::unique_ptr<HttpServer> server;
  std::string sha;

  explicit StoreServer(HttpServerOptions o = {}) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto spec = modelgen::preset_spec("tiny");
    REQUIRE(spec.ok());
    REQUIRE(modelgen::write_model(*spec, dir + "/tiny.gguf").ok());
    auto store = model::ModelStore::open(dir + "/store");
    REQUIRE(store.ok());
    auto m = store->import_file(dir + "/tiny.gguf", *model::parse_model_name("tiny:q8"));
    REQUIRE(m.ok());
    sha = m->sha256;
    o.port = 0;
    o.models_dir = dir + "/store";
    auto s = HttpServer::start(backend, std::move(o));
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    server = std::move(*s);
  }
  ~StoreServer() {
    server.reset();
    fs::remove_all(dir);
  }
  Connection connect() const { return Connection(server->port()); }
};

json body_of(const testing::Reply& r) { return json::parse(r.body); }

TEST_CASE("Ollama's probes: GET and HEAD /, and /api/version") {
  StoreServer s;
  auto root = s.connect().send(bhttp::verb::get, "/");
  CHECK(root.status == 200);
  CHECK(root.body == "Ollama is running");
  CHECK(s.connect().send(bhttp::verb::head, "/").status == 200);
  auto v = s.connect().send(bhttp::verb::get, "/api/version");
  CHECK(v.status == 200);
  CHECK(body_of(v)["version"] == std::string(kOllamaApiVersion));
  auto wrong = s.connect().send(bhttp::verb::post, "/api/tags", "{}");
  CHECK(wrong.status == 405);
  CHECK(body_of(wrong)["error"].get<std::string>().find("POST /api/tags is not allowed") == 0);
}

TEST_CASE("/api/tags lists the store; /api/show describes a model") {
  StoreServer s;
  auto tags = s.connect().send(bhttp::verb::get, "/api/tags");
  REQUIRE(tags.status == 200);
  const json models = body_of(tags)["models"];
  REQUIRE(models.size() == 1);
  CHECK(models[0]["name"] == "tiny:q8");
  CHECK(models[0]["model"] == "tiny:q8");
  CHECK(models[0]["digest"] == s.sha);
  CHECK(models[0]["size"] == fs::file_size(s.dir + "/tiny.gguf"));
  CHECK(models[0]["details"]["format"] == "gguf");
  CHECK(models[0]["details"]["family"] == "llama");
  CHECK(models[0]["details"]["quantization_level"] == "F32");

  auto show = s.connect().post("/api/show", {{"model", "tiny:q8"}});
  REQUIRE(show.status == 200);
  const json info = body_of(show)["model_info"];
  CHECK(info["general.architecture"] == "llama");
  CHECK(info["llama.context_length"] == 256);
  CHECK(info["llama.block_count"] == 2);
  auto missing = s.connect().post("/api/show", {{"model", "nope"}});
  CHECK(missing.status == 404);
  CHECK(body_of(missing)["error"].get<std::string>().find("model 'nope:latest' is not in the store") == 0);
  auto bad = s.connect().post("/api/show", {{"model", "a/b"}});
  CHECK(bad.status == 400);
  CHECK(body_of(bad)["error"].get<std::string>().find("model name 'a/b'") == 0);
  CHECK(s.connect().send(bhttp::verb::post, "/api/show", "[").status == 400);
}

TEST_CASE("/api/copy and /api/delete change the store") {
  StoreServer s;
  auto copied = s.connect().post("/api/copy", {{"source", "tiny:q8"}, {"destination", "other"}});
  CHECK(copied.status == 200);
  auto tags = body_of(s.connect().send(bhttp::verb::get, "/api/tags"))["models"];
  REQUIRE(tags.size() == 2);
  CHECK(tags[0]["name"] == "other:latest");
  CHECK(s.connect().post("/api/copy", {{"source", "absent"}, {"destination", "x"}}).status == 404);
  CHECK(s.connect().send(bhttp::verb::delete_, "/api/delete", json{{"model", "tiny:q8"}}.dump()).status == 200);
  CHECK(s.connect().send(bhttp::verb::delete_, "/api/delete", json{{"model", "tiny:q8"}}.dump()).status == 404);
  tags = body_of(s.connect().send(bhttp::verb::get, "/api/tags"))["models"];
  REQUIRE(tags.size() == 1);
  CHECK(tags[0]["name"] == "other:latest");
}

TEST_CASE("with API keys on, the store endpoints need a key; the / probe does not") {
  HttpServerOptions o;
  auto keys = ApiKeys::parse("user-key\n", "keys.txt");
  REQUIRE(keys.ok());
  o.api_keys = std::move(*keys);
  StoreServer s(std::move(o));
  CHECK(s.connect().send(bhttp::verb::get, "/").status == 200);
  CHECK(s.connect().send(bhttp::verb::get, "/api/tags").status == 401);
  CHECK(s.connect().send(bhttp::verb::get, "/api/tags", "", "Bearer user-key").status == 200);
}

}  // namespace
}  // namespace llmos::http
