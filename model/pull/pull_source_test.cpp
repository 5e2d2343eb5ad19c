#include "llmos/model/pull_source.hpp"

#include <doctest/doctest.h>

using namespace llmos;
using namespace llmos::model;

TEST_CASE("http and https URLs parse into host, port and target") {
  auto a = parse_http_url("https://huggingface.co/org/repo/resolve/main/m.gguf?download=true");
  REQUIRE(a.ok());
  CHECK(a->tls);
  CHECK(a->host == "huggingface.co");
  CHECK(a->port == 443);
  CHECK(a->target == "/org/repo/resolve/main/m.gguf?download=true");
  auto b = parse_http_url("http://127.0.0.1:8000");
  REQUIRE(b.ok());
  CHECK(b->port == 8000);
  CHECK(b->target == "/");
  CHECK(b->str() == "http://127.0.0.1:8000/");
  auto c = parse_http_url("HTTP://[::1]:9/x#frag");
  REQUIRE(c.ok());
  CHECK(c->host == "::1");
  CHECK(c->target == "/x");
  CHECK(c->str() == "http://[::1]:9/x");
  for (const char* bad : {"ftp://x/y", "http://", "http://:80/", "http://h:0/", "http://h:99999/", "http://h:x/",
                          "http://u@h/", "http://[::1/x"}) {
    CAPTURE(bad);
    auto r = parse_http_url(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(std::string("'") + bad + "'") == 0);
  }
}

TEST_CASE("redirects resolve absolute, scheme-relative, absolute-path and relative locations") {
  const HttpUrl base = *parse_http_url("http://a.example:8080/dir/file.gguf?x=1");
  CHECK(resolve_redirect(base, "https://cdn.example/blob")->str() == "https://cdn.example/blob");
  CHECK(resolve_redirect(base, "//cdn.example/b")->str() == "http://cdn.example/b");
  CHECK(resolve_redirect(base, "/other")->str() == "http://a.example:8080/other");
  CHECK(resolve_redirect(base, "next.gguf")->str() == "http://a.example:8080/dir/next.gguf");
  CHECK_FALSE(resolve_redirect(base, "gopher://x/").ok());
}

TEST_CASE("pull sources: hf: paths go under the endpoint, names come from the file") {
  auto hf = resolve_pull_source("hf:ggml-org/models/tinyllamas/stories260K.gguf", "https://huggingface.co/");
  REQUIRE(hf.ok());
  CHECK(hf->url.str() == "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf");
  CHECK(hf->default_name.str() == "stories260K:latest");
  CHECK(hf->source == "hf:ggml-org/models/tinyllamas/stories260K.gguf");
  auto local = resolve_pull_source("hf:o/r/m.gguf", "http://127.0.0.1:9999");
  REQUIRE(local.ok());
  CHECK(local->url.str() == "http://127.0.0.1:9999/o/r/resolve/main/m.gguf");
  auto url = resolve_pull_source("http://h/files/Qwen3-0.6B-Q4_K_M.gguf?download=1", kDefaultHfEndpoint);
  REQUIRE(url.ok());
  CHECK(url->default_name.name == "Qwen3-0.6B-Q4_K_M");
  for (const char* bad : {"hf:", "hf:org", "hf:org/repo", "hf:org/repo/", "hf://x/y/z", "hf:o/r/a b.gguf",
                          "file:/x.gguf", "/tmp/x.gguf", "http://h/"}) {
    CAPTURE(bad);
    auto r = resolve_pull_source(bad, kDefaultHfEndpoint);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kInvalidArgument);
    CHECK(r.status().message().find(bad) != std::string::npos);
  }
  CHECK_FALSE(resolve_pull_source("hf:o/r/m.gguf", "ftp://x").ok());
}
