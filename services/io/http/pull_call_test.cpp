// POST /api/pull over a real loopback server, pulling from
// tests/model_file_server.py: Ollama's streamed progress and the one-object
// answer, a stored name, errors before and after the stream began (404, not
// GGUF) leaving the store as it was, a client that goes away cancelling the
// download, and the request's fields. The live part is skipped without python3.
#include "pull_call.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_backend.hpp"
#include "llmos/http/http_server.hpp"
#include "llmos/model/model_store.hpp"
#include "llmos/model/sha256.hpp"
#include "model_file_server_test_util.hpp"
#include "test_client.hpp"

namespace llmos::http {
namespace {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> ndjson_lines(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::string files_under(const std::string& dir) {
  std::string out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out += e.path().string().substr(dir.size()) + " ";
  }
  return out;
}

struct PullServer {
  model::testing::ModelFileServer files;
  std::string store_dir = files.dir() + "/store";
  testing::FakeBackend backend;
  std::unique_ptr<HttpServer> server;

  PullServer() {
    HttpServerOptions o;
    o.port = 0;
    o.models_dir = store_dir;
    o.hf_endpoint = files.url("/hf");
    REQUIRE(model::ModelStore::open(store_dir).ok());
    auto s = HttpServer::start(backend, std::move(o));
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    server = std::move(*s);
  }
  testing::Connection connect() const { return testing::Connection(server->port()); }
  std::string stored() const { return files_under(store_dir + "/blobs") + files_under(store_dir + "/manifests"); }
  std::string temp() const { return files_under(store_dir + "/tmp"); }
};

TEST_CASE("/api/pull's request: model or name, stream, insecure, nothing else") {
  auto r = parse_ollama_pull_request(R"({"name":"hf:a/b/c.gguf","stream":false,"insecure":false})");
  REQUIRE(r.ok());
  CHECK(r->model == "hf:a/b/c.gguf");
  CHECK_FALSE(r->stream);
  r = parse_ollama_pull_request(R"({"model":"tiny"})");
  REQUIRE(r.ok());
  CHECK(r->stream);
  auto bad = [](std::string_view body) {
    auto p = parse_ollama_pull_request(body);
    REQUIRE_FALSE(p.ok());
    return p.status().message();
  };
  CHECK(bad(R"({"model":"x","username":"u"})").find("unknown field 'username'") == 0);
  CHECK(bad(R"({"model":"x","insecure":true})").find("'insecure': true is not supported") == 0);
  CHECK(bad(R"({"model":"x","stream":"yes"})") == "'stream' must be a boolean");
  CHECK(bad(R"({"model":"x","name":"y"})") == "'model' and 'name' name different models");
  CHECK(bad(R"({"stream":true})").find("'model' must be") == 0);
  CHECK(bad(R"({"model":7})") == "'model' must be a non-empty string");
  CHECK(bad("[1]") == "the request body must be a JSON object");
}

TEST_CASE("/api/pull downloads into the store, streamed and not") {
  PullServer s;
  if (!s.files.available()) {
    MESSAGE("skipped: python3 could not start the test server");
    return;
  }
  const std::string sha = *model::sha256_file(s.files.model());

  SUBCASE("streamed: Ollama's progress lines, then the model is stored") {
    auto r = s.connect().post("/api/pull", {{"model", s.files.url("/files/tiny.gguf")}});
    REQUIRE(r.status == 200);
    CHECK(std::string(r.headers[bhttp::field::content_type]) == "application/x-ndjson");
    auto lines = ndjson_lines(r.body);
    REQUIRE(lines.size() >= 5);
    CHECK(lines.front() == json{{"status", "pulling manifest"}});
    CHECK(lines[1]["status"] == "downloading tiny.gguf");
    // Ollama's digest is the blob's "sha256:..."; ours is only known at the end.
    CHECK_FALSE(lines[1].contains("digest"));
    const json& last_progress = lines[lines.size() - 4];
    CHECK(last_progress["completed"] == fs::file_size(s.files.model()));
    CHECK(last_progress["total"] == fs::file_size(s.files.model()));
    CHECK(lines[lines.size() - 3] == json{{"status", "verifying sha256 digest"}});
    CHECK(lines[lines.size() - 2] == json{{"status", "writing manifest"}});
    CHECK(lines.back() == json{{"status", "success"}});
    auto store = model::ModelStore::open(s.store_dir);
    auto m = store->find(*model::parse_model_name("tiny"));
    REQUIRE(m.ok());
    CHECK(m->sha256 == sha);
    CHECK(m->source == s.files.url("/files/tiny.gguf"));
    CHECK(s.temp().empty());

    // A stored name: nothing to fetch.
    r = s.connect().post("/api/pull", {{"model", "tiny"}});
    CHECK(ndjson_lines(r.body) == std::vector<json>{{{"status", "pulling manifest"}}, {{"status", "success"}}});
    r = s.connect().post("/api/pull", {{"model", "absent"}, {"stream", false}});
    CHECK(r.status == 404);
    CHECK(r.js()["error"].get<std::string>().find("model 'absent:latest' is not in the store") == 0);
  }
  SUBCASE("not streamed, from an hf: source through a redirect") {
    auto r = s.connect().post("/api/pull", {{"name", "hf:org/repo/tiny.gguf"}, {"stream", false}});
    REQUIRE(r.status == 200);
    CHECK(r.js() == json{{"status", "success"}});
    auto store = model::ModelStore::open(s.store_dir);
    auto m = store->find(*model::parse_model_name("tiny"));
    REQUIRE(m.ok());
    CHECK(m->source == "hf:org/repo/tiny.gguf");
  }
  SUBCASE("errors leave the store as it was") {
    // A 404 is known before anything is streamed: an HTTP error status.
    auto r = s.connect().post("/api/pull", {{"model", s.files.url("/files/absent.gguf")}});
    CHECK(r.status == 502);
    CHECK(r.js()["error"].get<std::string>().find("HTTP 404") != std::string::npos);
    r = s.connect().post("/api/pull", {{"model", s.files.url("/files/absent.gguf")}, {"stream", false}});
    CHECK(r.status == 502);
    // Not GGUF: found out after the download, so the stream ends with an error line.
    r = s.connect().post("/api/pull", {{"model", s.files.url("/files/junk.gguf")}});
    CHECK(r.status == 200);
    auto lines = ndjson_lines(r.body);
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.back()["error"].get<std::string>().find(s.files.url("/files/junk.gguf")) == 0);
    r = s.connect().post("/api/pull", {{"model", s.files.url("/files/junk.gguf")}, {"stream", false}});
    CHECK(r.status == 400);
    r = s.connect().post("/api/pull", {{"model", "ftp://x/y.gguf"}});
    CHECK(r.status == 400);
    CHECK(s.connect().send(bhttp::verb::get, "/api/pull").status == 405);
    CHECK(s.stored().empty());
    CHECK(s.temp().empty());
  }
  SUBCASE("a client that goes away cancels the pull; the partial file stays for a resume") {
    {
      auto c = s.connect();
      const std::string body = json{{"model", s.files.url("/slow/tiny.gguf")}}.dump();
      c.write_raw("POST /api/pull HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body);
      REQUIRE(c.read_until("downloading"));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // some bytes arrive (the file takes over 1 s)
      c.close();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the download polls every 100 ms
    CHECK(s.stored().empty());
    CHECK(s.temp().find(".partial") != std::string::npos);
    // The same pull again resumes the partial file (a 409 while the first job still ends).
    testing::Reply r;
    for (int i = 0; i < 50; ++i) {
      r = s.connect().post("/api/pull", {{"model", s.files.url("/slow/tiny.gguf")}, {"stream", false}});
      if (r.status != 409) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(r.status == 200);
    CHECK(r.js() == json{{"status", "success"}});
    CHECK(s.temp().empty());
    auto store = model::ModelStore::open(s.store_dir);
    auto m = store->find(*model::parse_model_name("tiny"));
    REQUIRE(m.ok());
    CHECK(m->sha256 == sha);
  }
}

TEST_CASE("a server that stops ends the pulls it runs") {
  PullServer s;
  if (!s.files.available()) {
    MESSAGE("skipped: python3 could not start the test server");
    return;
  }
  auto c = s.connect();
  const std::string body = json{{"model", s.files.url("/slow/tiny.gguf")}}.dump();
  c.write_raw("POST /api/pull HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
              body);
  REQUIRE(c.read_until("downloading"));
  const auto t0 = std::chrono::steady_clock::now();
  s.server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(s.stored().empty());
}

}  // namespace
}  // namespace llmos::http
