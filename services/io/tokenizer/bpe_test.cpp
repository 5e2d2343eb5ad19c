// Byte-level BPE on a hand-built vocabulary, the pre-tokenizer's splits and
// GPT-2's byte characters; the real vocabularies are checked against
// llama.cpp in tests/golden_tokenize_test.cpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "byte_unicode.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "pre_tokenizer.hpp"

namespace llmos::tokenizer {
namespace {

using Ids = std::vector<TokenId>;

constexpr TokenId kHi = 256, kSpaceHi = 257, kEndOfText = 258, kTool = 259;

// Ids 0..255: the byte characters in byte order; then "hi", "Ġhi", a control
// and a user-defined token. Merges: "h i", then "Ġ hi".
Vocabulary make_bpe_vocab(std::string pre = "gpt-2") {
  Vocabulary v;
  v.kind = VocabKind::kBytePairs;
  v.source = "bpe-vocab";
  v.pre = std::move(pre);
  const ByteUnicode bytes;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(bytes.encode(static_cast<uint8_t>(b)));
  v.tokens.insert(v.tokens.end(), {"hi", "Ġhi", "<|endoftext|>", "<tool>"});
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.types[kEndOfText] = TokenType::kControl;
  v.types[kTool] = TokenType::kUserDefined;
  v.scores.assign(v.tokens.size(), 0.0f);
  v.merges = {"h i", "Ġ hi"};
  v.bos_id = v.eos_id = kEndOfText;
  v.unk_id = -1;
  v.add_space_prefix = false;
  v.add_bos = false;
  return v;
}

Tokenizer make_bpe(std::string pre = "gpt-2") {
  auto t = Tokenizer::create(make_bpe_vocab(std::move(pre)));
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return std::move(t).value();
}

TEST_CASE("GPT-2 byte characters: printable bytes are themselves, the rest from U+0100 on") {
  const ByteUnicode bytes;
  CHECK(bytes.encode('a') == "a");
  CHECK(bytes.encode(' ') == "Ġ");   // U+0120
  CHECK(bytes.encode('\n') == "Ċ");  // U+010A
  CHECK(bytes.encode(0xC3) == "Ã");
  std::string spelled, back;
  bytes.encode_all("é \xFF", spelled);
  bytes.decode_all(spelled, back);
  CHECK(back == "é \xFF");
}

TEST_CASE("pre-tokenizer llama-bpe: contractions, digits by three, runs of spaces and newlines") {
  auto pre = PreTokenizer::create("llama-bpe", "test");
  REQUIRE(pre.ok());
  std::vector<std::string_view> words;
  pre->split("Hello world's 12345  \n\n x", words);
  CHECK(words == std::vector<std::string_view>{"Hello", " world", "'s", " ", "123", "45", "  \n\n", " x"});
  pre->split("", words);
  CHECK(words.empty());
}

TEST_CASE("pre-tokenizer qwen2 takes digits one by one, gpt-2 keeps them together") {
  std::vector<std::string_view> words;
  auto qwen = PreTokenizer::create("qwen2", "test");
  REQUIRE(qwen.ok());
  qwen->split("ab 123", words);
  CHECK(words == std::vector<std::string_view>{"ab", " ", "1", "2", "3"});
  auto gpt2 = PreTokenizer::create("gpt-2", "test");
  REQUIRE(gpt2.ok());
  gpt2->split("ab 123 Ünïcödé", words);
  CHECK(words == std::vector<std::string_view>{"ab", " 123", " Ünïcödé"});
}

TEST_CASE("an unknown pre-tokenizer is one error naming it and the file") {
  auto pre = PreTokenizer::create("klingon", "model.gguf");
  REQUIRE_FALSE(pre.ok());
  CHECK(pre.status().code() == ErrorCode::kInvalidArgument);
  CHECK(pre.status().message() == "model.gguf: tokenizer.ggml.pre = \"klingon\" is not a pre-tokenizer llmos knows");
  Vocabulary v = make_bpe_vocab("klingon");
  CHECK_FALSE(Tokenizer::create(v).ok());
}

TEST_CASE("BPE merges by rank inside each word, bytes for the rest") {
  const Tokenizer tok = make_bpe();
  CHECK(tok.kind() == VocabKind::kBytePairs);
  CHECK(tok.encode("hi hi", false) == Ids{kHi, kSpaceHi});
  CHECK(tok.encode("hih", false) == Ids{kHi, 'h'});
  CHECK(tok.encode("é", false) == Ids{0xC3, 0xA9});
  CHECK(tok.encode("", false).empty());
  CHECK(tok.encode("hi", true) == Ids{kEndOfText, kHi});
}

TEST_CASE("a long text (words cached per call) gives the same ids as its words one by one") {
  const Tokenizer tok = make_bpe();
  std::string text = "hi";
  Ids expected{kHi};
  for (int i = 0; i < 400; ++i) {
    text += i % 3 == 0 ? " é" : " hi";
    if (i % 3 == 0) {
      expected.insert(expected.end(), {' ', 0xC3, 0xA9});
    } else {
      expected.push_back(kSpaceHi);
    }
  }
  CHECK(tok.encode(text, false) == expected);
}

TEST_CASE("BPE special tokens: user-defined always, control only when parse_special") {
  const Tokenizer tok = make_bpe();
  const Ids plain = tok.encode("hi<|endoftext|>", false);
  CHECK(plain.size() > 2);
  CHECK(plain.front() == kHi);
  CHECK(tok.encode("hi<|endoftext|>", false, /*parse_special=*/true) == Ids{kHi, kEndOfText});
  CHECK(tok.encode("<tool>hi", false) == Ids{kTool, kHi});
  CHECK(tok.is_end_of_generation(kEndOfText));
  CHECK_FALSE(tok.is_end_of_generation(kHi));
}

TEST_CASE("marker texts become control tokens whatever the file says; Phi-3's specials swallow spaces after them") {
  Vocabulary v = make_bpe_vocab();
  v.tokens[kTool] = "<|im_end|>";  // user-defined in the file, an end-of-turn marker for llama.cpp
  auto tok = Tokenizer::create(v);
  REQUIRE(tok.ok());
  CHECK(tok->token_attributes(kTool) == (kAttrUserDefined | kAttrControl));
  CHECK(tok->is_end_of_generation(kTool));
  CHECK(tok->encode("hi<|im_end|>", false).size() > 2);  // not matched without parse_special
  CHECK(tok->encode("hi<|im_end|>", false, true) == Ids{kHi, kTool});

  v.tokens[kTool] = "<tool>";
  v.model_name = "Phi3 mini";
  tok = Tokenizer::create(v);
  REQUIRE(tok.ok());
  CHECK((tok->token_attributes(kTool) & kAttrRstrip) != 0);
  CHECK(tok->encode("<tool>   hi", false) == Ids{kTool, kHi});
}

TEST_CASE("BPE decode turns byte characters back into bytes; control tokens are silent") {
  const Tokenizer tok = make_bpe();
  CHECK(tok.token_to_piece(kSpaceHi) == " hi");
  CHECK(tok.decode(Ids{kHi, kSpaceHi, kEndOfText, kTool}) == "hi hi<tool>");
  CHECK(tok.decode(Ids{0xC3, 0xA9}) == "é");
  for (const std::string text : {"hi hi", "é ü\n\t x", "a\xF0\x9F\x9A\x80"}) {
    CHECK(tok.decode(tok.encode(text, false)) == text);
  }
}

TEST_CASE("the stream decoder holds back a character split across byte tokens") {
  const Tokenizer tok = make_bpe();
  StreamDecoder decoder(tok);
  CHECK(decoder.push(kHi) == "hi");
  CHECK(decoder.push(0xC3).empty());
  CHECK(decoder.push(0xA9) == "é");
  CHECK(decoder.push(0xF0).empty());
  CHECK(decoder.finish() == "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace llmos::tokenizer
