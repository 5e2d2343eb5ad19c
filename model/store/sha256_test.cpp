#include "llmos/model/sha256.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <string>

using namespace llmos;
using namespace llmos::model;

TEST_CASE("sha256 gives the FIPS 180-2 test vectors, in pieces or whole") {
  Sha256 h;
  CHECK(h.hex_digest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.update("abc");
  CHECK(h.hex_digest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h.update("abcdbcdecdefdefgefghfghighij");
  h.update("hijkijkljklmklmnlmnomnopnopq");
  CHECK(h.hex_digest() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256_file hashes a file, or a prefix of it, and names a missing one") {
  const std::string path = "/tmp/llmos_sha256_test_" + std::to_string(::getpid());
  std::ofstream(path) << "abcdef";
  CHECK(*sha256_file(path, 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("abcdef");
  CHECK(*sha256_file(path) == h.hex_digest());
  ::unlink(path.c_str());
  auto missing = sha256_file(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find(path) != std::string::npos);
  CHECK(is_sha256_hex(std::string(64, 'A')));
  CHECK_FALSE(is_sha256_hex(std::string(63, 'a')));
  CHECK_FALSE(is_sha256_hex(std::string(64, 'g')));
}
