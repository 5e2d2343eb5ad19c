#include "llmos/http/api_keys.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace llmos::http {
namespace {

TEST_CASE("a keys file: comments, blank lines, admin keys") {
  auto keys = ApiKeys::parse("# team keys\n\nsk-user-1\n  admin:sk-root  \r\nsk-user-2 # not a comment? no\n", "keys.txt");
  CHECK_FALSE(keys.ok());  // "sk-user-2 # ..." has spaces
  CHECK(keys.status().message() == "keys.txt:5: a key must not contain spaces");

  keys = ApiKeys::parse("# team keys\n\nsk-user-1\n  admin:sk-root  \r\n", "keys.txt");
  REQUIRE(keys.ok());
  CHECK(keys->enabled());
  CHECK(keys->size() == 2);
  CHECK(keys->role_of("Bearer sk-user-1") == KeyRole::kUser);
  CHECK(keys->role_of("bearer   sk-root ") == KeyRole::kAdmin);
  CHECK(keys->role_of("Bearer sk-user") == KeyRole::kNone);
  CHECK(keys->role_of("Bearer sk-user-12") == KeyRole::kNone);
  CHECK(keys->role_of("sk-user-1") == KeyRole::kNone);
  CHECK(keys->role_of("Basic sk-user-1") == KeyRole::kNone);
  CHECK(keys->role_of("") == KeyRole::kNone);
  CHECK(keys->role_of("Bearer ") == KeyRole::kNone);
  CHECK(keys->role_of("Bearer admin:sk-root") == KeyRole::kNone);
}

TEST_CASE("bad keys files are refused with the file and line") {
  CHECK(ApiKeys::parse("admin:\n", "k").status().message() == "k:1: empty key after 'admin:'");
  CHECK(ApiKeys::parse("# nothing\n\n", "k").status().message() == "k: no API keys in the file");
  CHECK(ApiKeys::load("/nonexistent/llmos-keys").status().code() == ErrorCode::kNotFound);
}

TEST_CASE("no keys means no checks") {
  ApiKeys none;
  CHECK_FALSE(none.enabled());
}

TEST_CASE("load() reads a file") {
  const std::string path = "/tmp/llmos-http-keys-test-" + std::to_string(::getpid());
  std::ofstream(path) << "k1\nadmin:k2\n";
  auto keys = ApiKeys::load(path);
  std::remove(path.c_str());
  REQUIRE(keys.ok());
  CHECK(keys->role_of("Bearer k2") == KeyRole::kAdmin);
}

}  // namespace
}  // namespace llmos::http
