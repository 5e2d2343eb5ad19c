#include "llmos/http/generation_text.hpp"

#include <doctest/doctest.h>

#include <string>

namespace llmos::http {
namespace {

using tokenizer::TokenType;

// <unk> <s> </s>, the 256 byte tokens (ids 3..258), then "▁Hello", "▁world", "!".
tokenizer::Tokenizer make_tokenizer() {
  tokenizer::Vocabulary v;
  v.source = "generation-text-test";
  auto add = [&v](std::string text, TokenType type) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(0);
    v.types.push_back(type);
  };
  add("<unk>", TokenType::kUnknown);
  add("<s>", TokenType::kControl);
  add("</s>", TokenType::kControl);
  const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) add(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", TokenType::kByte);
  for (const char* piece : {"\xE2\x96\x81Hello", "\xE2\x96\x81world", "!"}) add(piece, TokenType::kNormal);
  auto tok = tokenizer::Tokenizer::create(std::move(v));
  REQUIRE_MESSAGE(tok.ok(), tok.status().to_string());
  return std::move(*tok);
}

constexpr int32_t kHello = 259, kWorld = 260, kBang = 261;
int32_t byte(unsigned char b) { return 3 + b; }

TEST_CASE("text arrives in whole characters and the end reports the reason and the usage") {
  const auto tok = make_tokenizer();
  GenerationText g(tok, {}, 7);
  std::string text = g.push(kHello).text;
  text += g.push(byte(0xC3)).text;  // the first byte of "é": held back
  CHECK(text == "Hello");
  text += g.push(byte(0xA9)).text;
  CHECK(text == "Hello\xC3\xA9");
  GenerationEvent end = g.finish(FinishReason::kContext);
  CHECK(end.done);
  CHECK(end.finish == FinishReason::kContext);
  CHECK(end.usage.prompt_tokens == 7);
  CHECK(end.usage.completion_tokens == 3);
  CHECK(g.ended());
}

TEST_CASE("a stop string ends the generation before it, also across tokens") {
  const auto tok = make_tokenizer();
  GenerationText g(tok, {" world!"}, 2);
  std::string text = g.push(kHello).text;
  GenerationEvent ev = g.push(kWorld);  // " world" may still become " world!": held back
  CHECK(!ev.done);
  text += ev.text;
  ev = g.push(kBang);
  text += ev.text;
  CHECK(ev.done);
  CHECK(ev.finish == FinishReason::kStop);
  CHECK(text == "Hello");
  CHECK(ev.usage.completion_tokens == 3);
  CHECK(g.ended());
}

TEST_CASE("held-back text that never became a stop string comes out at the end; an error ends with no text") {
  const auto tok = make_tokenizer();
  GenerationText g(tok, {" world!"}, 1);
  std::string text = g.push(kHello).text;
  text += g.push(kWorld).text;
  CHECK(text == "Hello");
  GenerationEvent end = g.finish(FinishReason::kLength);
  CHECK(text + end.text == "Hello world");
  CHECK(end.finish == FinishReason::kLength);

  GenerationText failed(tok, {}, 1);
  (void)failed.push(kHello);
  GenerationEvent err = failed.finish(FinishReason::kError, overloaded("the model service died"));
  CHECK(err.finish == FinishReason::kError);
  CHECK(err.text.empty());
  CHECK(err.error.message() == "the model service died");
}

}  // namespace
}  // namespace llmos::http
