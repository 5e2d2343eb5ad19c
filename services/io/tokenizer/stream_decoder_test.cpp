#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "llmos/tokenizer/tokenizer.hpp"
#include "test_vocab.hpp"

namespace llmos::tokenizer {
namespace {

using testing::kFirstByteToken;
using testing::make_vocab;
using Ids = std::vector<TokenId>;

Tokenizer make_tokenizer() {
  auto t = Tokenizer::create(make_vocab({{"▁", -1}, {"▁Hi", -1}, {"▁there", -1}, {"é", -1}}));
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return std::move(t).value();
}

TokenId byte(unsigned char b) { return kFirstByteToken + b; }

// Every chunk push() and finish() return, in order.
std::vector<std::string> stream(const Tokenizer& t, const Ids& ids) {
  StreamDecoder decoder(t);
  std::vector<std::string> chunks;
  for (TokenId id : ids) chunks.push_back(decoder.push(id));
  chunks.push_back(decoder.finish());
  return chunks;
}

std::string joined(const std::vector<std::string>& chunks) {
  std::string all;
  for (const auto& c : chunks) all += c;
  return all;
}

TEST_CASE("an emoji split over four byte tokens comes out whole, once complete") {
  Tokenizer t = make_tokenizer();
  const Ids ids = {t.find_token("▁Hi"), byte(0xF0), byte(0x9F), byte(0xA6), byte(0x99),
                   t.find_token("▁there")};
  CHECK(stream(t, ids) == std::vector<std::string>{"Hi", "", "", "", "🦙", " there", ""});
  CHECK(joined(stream(t, ids)) == t.decode(ids));
}

TEST_CASE("the first piece loses one leading space, like decode") {
  Tokenizer t = make_tokenizer();
  const TokenId hi = t.find_token("▁Hi");
  CHECK(stream(t, {hi, hi}) == std::vector<std::string>{"Hi", " Hi", ""});
  CHECK(stream(t, {byte(' '), hi}) == std::vector<std::string>{"", " Hi", ""});
  CHECK(stream(t, {t.bos_id(), hi}) == std::vector<std::string>{"", " Hi", ""});
}

TEST_CASE("chunks concatenate to decode() for valid text") {
  Tokenizer t = make_tokenizer();
  for (std::string text : {"Hi there", " Hi  é 猫 🚀 there\n", "é", "🦙🦙 x", ""}) {
    const Ids ids = t.encode(text, true);
    CHECK(joined(stream(t, ids)) == t.decode(ids));
    CHECK(joined(stream(t, t.encode(text, false))) == text);
  }
}

TEST_CASE("bytes that can never form a character become U+FFFD") {
  Tokenizer t = make_tokenizer();
  const TokenId hi = t.find_token("▁Hi");
  // A byte that never starts a character.
  CHECK(stream(t, {byte(0xFF), hi}) == std::vector<std::string>{"\uFFFD", " Hi", ""});
  // A lead byte followed by something that is not a continuation byte.
  CHECK(stream(t, {byte(0xE4), byte('A')}) == std::vector<std::string>{"", "\uFFFDA", ""});
  CHECK(stream(t, {byte(0xE4), byte(0xB8), hi}) == std::vector<std::string>{"", "", "\uFFFD Hi", ""});
  // A stray continuation byte.
  CHECK(stream(t, {byte(0x80)}) == std::vector<std::string>{"\uFFFD", ""});
  // Surrogates (ED A0..BF) are ill-formed in UTF-8.
  CHECK(stream(t, {byte(0xED), byte(0xA0), byte(0x80)}) ==
        std::vector<std::string>{"", "\uFFFD\uFFFD", "\uFFFD", ""});
}

TEST_CASE("finish() flushes an incomplete character as U+FFFD and starts a new stream") {
  Tokenizer t = make_tokenizer();
  StreamDecoder decoder(t);
  CHECK(decoder.push(byte(0xF0)).empty());
  CHECK(decoder.push(byte(0x9F)).empty());
  CHECK(decoder.finish() == "\uFFFD");
  CHECK(decoder.finish().empty());
  CHECK(decoder.push(t.find_token("▁Hi")) == "Hi");  // a new stream strips again
}

}  // namespace
}  // namespace llmos::tokenizer
