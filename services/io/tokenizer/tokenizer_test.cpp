#include "llmos/tokenizer/tokenizer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "test_vocab.hpp"

namespace llmos::tokenizer {
namespace {

using testing::kFirstByteToken;
using testing::kFirstPiece;
using testing::make_vocab;
using testing::Piece;
using Ids = std::vector<TokenId>;

Tokenizer make_tokenizer(Vocabulary v) {
  auto t = Tokenizer::create(std::move(v));
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return std::move(t).value();
}

// Id of a piece by text, failing the test when absent.
TokenId id_of(const Tokenizer& t, std::string_view text) {
  TokenId id = t.find_token(text);
  REQUIRE_MESSAGE(id >= 0, std::string(text));
  return id;
}

TEST_CASE("the best-scoring pair merges first; ties go to the leftmost pair") {
  auto build = [](float ab, float bc) {
    Vocabulary v = make_vocab({{"a"}, {"b"}, {"c"}, {"ab", ab}, {"bc", bc}});
    v.add_space_prefix = false;
    return make_tokenizer(std::move(v));
  };
  {
    Tokenizer t = build(-1, -2);
    CHECK(t.encode("abc", false) == Ids{id_of(t, "ab"), id_of(t, "c")});
  }
  {
    Tokenizer t = build(-2, -1);
    CHECK(t.encode("abc", false) == Ids{id_of(t, "a"), id_of(t, "bc")});
  }
  {
    Tokenizer t = build(-1, -1);
    CHECK(t.encode("abc", false) == Ids{id_of(t, "ab"), id_of(t, "c")});
  }
}

TEST_CASE("merges continue through longer tokens but only via pairs in the vocabulary") {
  // In "abcd", "ab" merges first, then "cd" outscores "ab"+"c" = "abc", so
  // "abc" is never formed and "ab"+"cd" makes "abcd". Alone, "abc" does form.
  Vocabulary v = make_vocab({{"a"}, {"b"}, {"c"}, {"d"}, {"ab", -1}, {"cd", -2}, {"abc", -3},
                             {"abcd", -10}, {"▁", -5}, {"▁abcd", -20}});
  Tokenizer t = make_tokenizer(std::move(v));
  CHECK(t.encode("abcd", false) == Ids{id_of(t, "▁abcd")});
  CHECK(t.encode("abcda", false) == Ids{id_of(t, "▁abcd"), id_of(t, "a")});
  CHECK(t.encode("abc", false) == Ids{id_of(t, "▁"), id_of(t, "abc")});
}

TEST_CASE("spaces become ▁ and non-empty text gets one ▁ in front") {
  Vocabulary v = make_vocab({{"▁", -1}, {"▁a", -2}, {"▁b", -2}, {"a", -3}, {"b", -3}, {"▁▁", -4}});
  Tokenizer t = make_tokenizer(v);
  CHECK(t.encode("a b", false) == Ids{id_of(t, "▁a"), id_of(t, "▁b")});
  CHECK(t.encode(" a", false) == Ids{id_of(t, "▁"), id_of(t, "▁a")});  // ▁a outscores ▁▁
  CHECK(t.encode("a ", false) == Ids{id_of(t, "▁a"), id_of(t, "▁")});

  v.add_space_prefix = false;
  Tokenizer no_prefix = make_tokenizer(v);
  CHECK(no_prefix.encode("a b", false) == Ids{id_of(t, "a"), id_of(t, "▁b")});
  CHECK(no_prefix.decode(no_prefix.encode(" a", false)) == " a");
}

TEST_CASE("empty text is no tokens, or just BOS") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁", -1}}));
  CHECK(t.encode("", false).empty());
  CHECK(t.encode("", true) == Ids{t.bos_id()});
  CHECK(t.decode({}).empty());
}

TEST_CASE("BOS goes first when asked and the space prefix still applies") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁a", -1}}));
  CHECK(t.encode("a", true) == Ids{1, id_of(t, "▁a")});
  CHECK(t.encode("a", false) == Ids{id_of(t, "▁a")});
}

TEST_CASE("characters missing from the vocabulary fall back to byte tokens") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁", -1}, {"▁a", -1}}));
  // "é" is C3 A9; the 🦙 emoji is F0 9F A6 99.
  CHECK(t.encode("aé", false) ==
        Ids{id_of(t, "▁a"), kFirstByteToken + 0xC3, kFirstByteToken + 0xA9});
  CHECK(t.encode("🦙", false) == Ids{id_of(t, "▁"), kFirstByteToken + 0xF0, kFirstByteToken + 0x9F,
                                     kFirstByteToken + 0xA6, kFirstByteToken + 0x99});
  CHECK(t.encode("\n", false) == Ids{id_of(t, "▁"), kFirstByteToken + '\n'});
}

TEST_CASE("without byte tokens, unknown bytes become <unk>") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁a", -1}}, /*byte_tokens=*/false));
  CHECK(t.encode("aé", false) == Ids{id_of(t, "▁a"), t.unk_id(), t.unk_id()});
}

TEST_CASE("invalid UTF-8 bytes are single symbols and encode as bytes") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁", -1}, {"a", -1}, {"▁a", -1}, {"aa", -2}}));
  // A truncated 3-byte lead (E4) then "a": the lead alone is one symbol, so the
  // following "a"s still merge.
  CHECK(t.encode("\xE4" "aa", false) ==
        Ids{id_of(t, "▁"), kFirstByteToken + 0xE4, id_of(t, "aa")});
  CHECK(t.encode("a\xFF", false) == Ids{id_of(t, "▁a"), kFirstByteToken + 0xFF});
  CHECK(t.decode(t.encode("a\xFF", false)) == "a\xFF");
}

TEST_CASE("control-token text in user text is ordinary text") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁", -1}, {"<", -1}, {"s", -1}, {">", -1}, {"▁<", -1}}));
  const Ids ids = t.encode("<s>", false);
  CHECK(ids == Ids{id_of(t, "▁<"), id_of(t, "s"), id_of(t, ">")});
  CHECK(t.decode(ids) == "<s>");
}

TEST_CASE("user-defined tokens are matched verbatim, and the text after one gets a space prefix") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁a", -1},
                                           {"▁b", -1},
                                           {"<tool>", 0, TokenType::kUserDefined},
                                           {"<tool_call>", 0, TokenType::kUserDefined}}));
  const TokenId tool = id_of(t, "<tool>");
  const TokenId call = id_of(t, "<tool_call>");
  CHECK(t.encode("a<tool>b", false) == Ids{id_of(t, "▁a"), tool, id_of(t, "▁b")});
  CHECK(t.encode("<tool_call><tool>", false) == Ids{call, tool});
  CHECK(t.decode(Ids{id_of(t, "▁a"), tool}) == "a<tool>");
}

TEST_CASE("decode maps ▁ to spaces, bytes to bytes, hides control tokens, and drops one leading space") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁Hello", -1}, {"▁world", -1}, {"▁", -1}, {"▁▁", -1}}));
  const TokenId hello = id_of(t, "▁Hello");
  const TokenId world = id_of(t, "▁world");
  CHECK(t.token_to_piece(hello) == " Hello");
  CHECK(t.token_to_piece(kFirstByteToken + '\n') == "\n");
  CHECK(t.token_to_piece(t.bos_id()).empty());
  CHECK(t.token_to_piece(t.unk_id()).empty());
  CHECK(t.token_text(t.bos_id()) == "<s>");
  CHECK(t.decode(Ids{hello, world}) == "Hello world");
  CHECK(t.decode(Ids{id_of(t, "▁▁"), hello}) == "  Hello");  // "  " loses one space
  // Only the very first piece loses its space, even when it is a control token.
  CHECK(t.decode(Ids{t.bos_id(), hello}) == " Hello");
  CHECK(t.decode(Ids{world, t.eos_id()}) == "world");
}

TEST_CASE("decode(encode(text)) gives the text back") {
  Tokenizer t = make_tokenizer(
      make_vocab({{"▁", -1}, {"▁the", -2}, {"▁cat", -3}, {"at", -4}, {"c", -5}, {"▁c", -5}}));
  for (std::string text : {"the cat", "  the  cat ", "naïve 🦙 猫\t\n", "a", "cat"}) {
    CHECK(t.decode(t.encode(text, false)) == text);
    Ids with_bos = t.encode(text, true);
    with_bos.erase(with_bos.begin());
    CHECK(with_bos == t.encode(text, false));
  }
}

TEST_CASE("long inputs encode in reasonable time") {
  // Quadratic merging would take minutes on 2^20 characters.
  Tokenizer t = make_tokenizer(make_vocab({{"a", -1}, {"aa", -2}, {"aaaa", -3}, {"▁", -4}}));
  const std::string text(1 << 20, 'a');
  const Ids ids = t.encode(text, false);
  CHECK(ids.size() == 1 + (1 << 18));
  CHECK(t.decode(ids) == text);
}

TEST_CASE("one Tokenizer serves many threads") {
  Tokenizer t = make_tokenizer(make_vocab({{"▁", -1}, {"▁the", -2}, {"▁cat", -3}}));
  const std::string text = "the cat the cat ü";
  const Ids expected = t.encode(text, true);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 2000; ++i) mismatches[k] += t.encode(text, true) != expected;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("a malformed vocabulary is refused with the file and key named") {
  SUBCASE("scores shorter than tokens") {
    Vocabulary v = make_vocab({{"▁a"}});
    v.scores.pop_back();
    auto t = Tokenizer::create(v);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == ErrorCode::kInvalidArgument);
    CHECK(t.status().message() ==
          "test-vocab: tokenizer.ggml.scores has 259 entries but tokenizer.ggml.tokens has 260");
  }
  SUBCASE("types longer than tokens") {
    Vocabulary v = make_vocab({{"▁a"}});
    v.types.push_back(TokenType::kNormal);
    auto t = Tokenizer::create(v);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().message().find("tokenizer.ggml.token_type has 261 entries") != std::string::npos);
  }
  SUBCASE("BOS out of range") {
    Vocabulary v = make_vocab({{"▁a"}});
    v.bos_id = 260;
    auto t = Tokenizer::create(v);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().message() ==
          "test-vocab: tokenizer.ggml.bos_token_id = 260 is not a token id (the vocabulary has 260 "
          "tokens)");
  }
  SUBCASE("negative unknown id") {
    Vocabulary v = make_vocab({{"▁a"}});
    v.unk_id = -2;  // -1 means none
    auto t = Tokenizer::create(v);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().message().find("tokenizer.ggml.unknown_token_id = -2") != std::string::npos);
  }
  SUBCASE("a byte token that is not <0xXX>") {
    Vocabulary v = make_vocab({{"xyz", 0, TokenType::kByte}});
    auto t = Tokenizer::create(v);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().message() ==
          "test-vocab: tokenizer.ggml.token_type[259] says byte but tokenizer.ggml.tokens[259] = "
          "\"xyz\" is not of the form <0xXX>");
  }
  SUBCASE("an unknown token type") {
    Vocabulary v = make_vocab({{"▁a", 0, static_cast<TokenType>(9)}});
    auto t = Tokenizer::create(v);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().message() == "test-vocab: tokenizer.ggml.token_type[259] = 9 is not a token type (0..6)");
  }
  SUBCASE("no tokens") {
    auto t = Tokenizer::create(Vocabulary{});
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().message() == "<vocabulary>: tokenizer.ggml.tokens is empty");
  }
}

}  // namespace
}  // namespace llmos::tokenizer
