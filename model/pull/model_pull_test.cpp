// pull_model and download_to_file against tests/model_file_server.py, a local
// HTTP server this test starts: a whole file, a redirect, the server's
// SHA-256, a cut connection resumed, a cancel, a bad SHA-256, not GGUF, a 404.
// Skipped without python3 (ctest entry llmos_model_pull_test_external).
#include "llmos/model/model_pull.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "llmos/model/sha256.hpp"
#include "model_file_server_test_util.hpp"
#include "llmos/modelgen/model_gen.hpp"
#include "skip.hpp"

using namespace llmos;
using namespace llmos::model;
namespace fs = std::filesystem;

namespace {

using llmos::model::testing::ModelFileServer;

size_t files_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

TEST_CASE("pull: whole, redirected, resumed, cancelled, and refused downloads" * doctest::test_suite("external")) {
  ModelFileServer server;
  if (!server.available()) {
    llmos::testing::skip("python3 could not start the test server");
    return;
  }
  auto store = ModelStore::open(server.dir() + "/store");
  REQUIRE(store.ok());
  const std::string sha = *sha256_file(server.model());
  const uint64_t size = fs::file_size(server.model());
  DownloadHooks hooks;
  uint64_t last_done = 0, last_total = 0;
  hooks.progress = [&](uint64_t done, uint64_t total) { last_done = done, last_total = total; };

  SUBCASE("a whole file, through a redirect, with the server's sha256") {
    PullRequest req{server.url("/hf/o/r/resolve/main/tiny.gguf"), std::nullopt, "", ""};
    auto r = pull_model(*store, req, hooks);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    CHECK(r->manifest.name.str() == "tiny:latest");
    CHECK(r->manifest.sha256 == sha);
    CHECK(r->download.server_sha256 == sha);
    CHECK(r->download.final_url.target == "/files/tiny.gguf?etag=good");
    CHECK(last_done == size);
    CHECK(last_total == size);
    CHECK(files_in(store->temp_dir()) == 0);
  }
  SUBCASE("a cut connection keeps its partial; the next pull resumes it") {
    PullRequest req{server.url("/cut/tiny.gguf"), *parse_model_name("r:1"), sha, ""};
    auto cut = pull_model(*store, req, hooks);
    REQUIRE_FALSE(cut.ok());
    CHECK(cut.status().message().find("(pull again to resume)") != std::string::npos);
    CHECK(fs::file_size(partial_path_for(*store, *parse_http_url(req.source))) == size / 2);
    auto resumed = pull_model(*store, req, hooks);
    REQUIRE_MESSAGE(resumed.ok(), resumed.status().to_string());
    CHECK(resumed->download.resumed_from == size / 2);
    CHECK(resumed->manifest.sha256 == sha);
    CHECK(files_in(store->temp_dir()) == 0);
  }
  SUBCASE("a cancel stops the download") {
    hooks.cancelled = [] { return true; };
    auto r = pull_model(*store, PullRequest{server.url("/slow/tiny.gguf"), std::nullopt, "", ""}, hooks);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("cancelled") != std::string::npos);
    CHECK(store->list()->empty());
  }
  SUBCASE("a second pull of the same URL while one runs is refused, naming the holder") {
    const PullRequest req{server.url("/slow/tiny.gguf"), std::nullopt, "", ""};
    std::optional<Status> second;
    hooks.progress = [&](uint64_t, uint64_t) {
      if (!second) second = pull_model(*store, req, DownloadHooks{}).status();  // while the first holds the lock
    };
    hooks.cancelled = [&] { return second.has_value(); };
    (void)pull_model(*store, req, hooks);  // cancelled once the second was refused (or done)
    REQUIRE(second.has_value());
    CHECK(second->code() == ErrorCode::kOverloaded);
    CHECK_MESSAGE(second->message().find(req.source + " is already being pulled into this store by pid " +
                                         std::to_string(::getpid())) == 0,
                  second->message());
    const std::string partial = partial_path_for(*store, *parse_http_url(req.source));
    CHECK_FALSE(fs::exists(pull_lock_path(partial)));  // released with the first pull
  }
  SUBCASE("a bad sha256, a file that is not GGUF, a 404: nothing stored, nothing left") {
    auto bad = pull_model(*store, PullRequest{server.url("/files/tiny.gguf"), std::nullopt, std::string(64, 'f'), ""},
                          hooks);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().find("sha256 mismatch") != std::string::npos);
    auto junk = pull_model(*store, PullRequest{server.url("/files/junk.gguf"), std::nullopt, "", ""}, hooks);
    REQUIRE_FALSE(junk.ok());
    CHECK(junk.status().message().find(server.url("/files/junk.gguf")) == 0);
    auto missing = pull_model(*store, PullRequest{server.url("/files/absent.gguf"), std::nullopt, "", ""}, hooks);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().message().find("HTTP 404") != std::string::npos);
    CHECK(store->list()->empty());
    CHECK(files_in(store->temp_dir()) == 0);
  }
}
