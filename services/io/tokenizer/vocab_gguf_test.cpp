#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "llmos/gguf/gguf_file.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::tokenizer {
namespace {

namespace fs = std::filesystem;

// A GGUF file holding only tokenizer metadata, removed when the test ends.
struct VocabFile {
  fs::path path;
  explicit VocabFile(const std::function<void(gguf::GgufWriter&)>& add_keys) {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("llmos-vocab-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".gguf");
    gguf::GgufWriter writer;
    add_keys(writer);
    auto written = writer.write(path.string());
    REQUIRE_MESSAGE(written.ok(), written.status().to_string());
  }
  ~VocabFile() { fs::remove(path); }

  Result<Tokenizer> load() const {
    auto file = gguf::GgufFile::open(path.string());
    REQUIRE_MESSAGE(file.ok(), file.status().to_string());
    return tokenizer_from_gguf(**file);
  }
};

const std::vector<std::string> kTokens = {"<unk>", "<s>", "</s>", "<0x0A>", "▁", "▁h", "▁hi", "h", "i"};

// The keys of a small, valid llama vocabulary; `skip` leaves one out.
void add_vocab(gguf::GgufWriter& w, std::string_view skip = {}) {
  if (skip != "tokenizer.ggml.model") w.add_string("tokenizer.ggml.model", "llama");
  if (skip != "tokenizer.ggml.tokens") w.add_string_array("tokenizer.ggml.tokens", kTokens);
  if (skip != "tokenizer.ggml.scores") {
    w.add_array<float>("tokenizer.ggml.scores", {0, 0, 0, 0, -1, -2, -1, -3, -3});
  }
  if (skip != "tokenizer.ggml.token_type") {
    w.add_array<int32_t>("tokenizer.ggml.token_type", {2, 3, 3, 6, 1, 1, 1, 1, 1});
  }
}

TEST_CASE("a GGUF vocabulary loads with llama.cpp's defaults for absent keys") {
  VocabFile file([](gguf::GgufWriter& w) { add_vocab(w); });
  auto tok = file.load();
  REQUIRE_MESSAGE(tok.ok(), tok.status().to_string());
  CHECK(tok->n_tokens() == 9);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  CHECK(tok->unk_id() == 0);
  CHECK(tok->add_space_prefix());
  CHECK(tok->add_bos());
  CHECK(tok->source() == file.path.string());
  CHECK(tok->encode("hi\n", true) == std::vector<TokenId>{1, 6, 3});
  CHECK(tok->decode(std::vector<TokenId>{6, 3}) == "hi\n");
}

TEST_CASE("explicit special ids and flags are honoured") {
  VocabFile file([](gguf::GgufWriter& w) {
    add_vocab(w);
    w.add_uint32("tokenizer.ggml.bos_token_id", 2);
    w.add_uint32("tokenizer.ggml.eos_token_id", 1);
    w.add_uint32("tokenizer.ggml.unknown_token_id", 3);
    w.add_bool("tokenizer.ggml.add_space_prefix", false);
    w.add_bool("tokenizer.ggml.add_bos_token", false);
  });
  auto tok = file.load();
  REQUIRE_MESSAGE(tok.ok(), tok.status().to_string());
  CHECK(tok->bos_id() == 2);
  CHECK(tok->eos_id() == 1);
  CHECK(tok->unk_id() == 3);
  CHECK_FALSE(tok->add_space_prefix());
  CHECK_FALSE(tok->add_bos());
  CHECK(tok->encode("hi", false) == std::vector<TokenId>{7, 8});
}

TEST_CASE("scores and types default when the file has none") {
  VocabFile file([](gguf::GgufWriter& w) {
    add_vocab(w, "tokenizer.ggml.scores");
  });
  auto tok = file.load();
  REQUIRE_MESSAGE(tok.ok(), tok.status().to_string());
  VocabFile untyped([](gguf::GgufWriter& w) {
    add_vocab(w, "tokenizer.ggml.token_type");
  });
  auto tok2 = untyped.load();
  REQUIRE_MESSAGE(tok2.ok(), tok2.status().to_string());
  CHECK(tok2->token_type(1) == TokenType::kNormal);
}

// The error of loading a vocabulary built by `add_keys`.
Status load_error(const std::function<void(gguf::GgufWriter&)>& add_keys, std::string* path) {
  VocabFile file(add_keys);
  *path = file.path.string();
  auto tok = file.load();
  REQUIRE_FALSE(tok.ok());
  return tok.status();
}

bool mentions(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST_CASE("a bad vocabulary is refused with the file and key named") {
  std::string path;
  SUBCASE("another tokenizer model") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "bert");
          w.add_string_array("tokenizer.ggml.tokens", kTokens);
        },
        &path);
    CHECK(s.code() == ErrorCode::kUnimplemented);
    CHECK(s.message() == path + ": tokenizer.ggml.model = \"bert\" is not supported (\"llama\", \"gpt2\" and \"gemma4\" are)");
  }
  SUBCASE("a BPE vocabulary without merges") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "gpt2");
          w.add_string("tokenizer.ggml.pre", "gpt-2");
          w.add_string_array("tokenizer.ggml.tokens", kTokens);
        },
        &path);
    CHECK(s.code() == ErrorCode::kNotFound);
    CHECK(mentions(s, path));
    CHECK(mentions(s, "tokenizer.ggml.merges"));
  }
  SUBCASE("an unknown pre-tokenizer") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "gpt2");
          w.add_string("tokenizer.ggml.pre", "klingon");
          w.add_string_array("tokenizer.ggml.tokens", kTokens);
          w.add_string_array("tokenizer.ggml.merges", std::vector<std::string>{"h i"});
        },
        &path);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message() == path + ": tokenizer.ggml.pre = \"klingon\" is not a pre-tokenizer llmos knows");
  }
  SUBCASE("a merge without a space") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "gpt2");
          w.add_string("tokenizer.ggml.pre", "gpt-2");
          w.add_string_array("tokenizer.ggml.tokens", kTokens);
          w.add_string_array("tokenizer.ggml.merges", std::vector<std::string>{"h i", "hi"});
        },
        &path);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message() == path + ": tokenizer.ggml.merges[1] = \"hi\" is not of the form \"left right\"");
  }
  SUBCASE("no tokenizer model") {
    Status s = load_error([](gguf::GgufWriter& w) { add_vocab(w, "tokenizer.ggml.model"); }, &path);
    CHECK(s.code() == ErrorCode::kNotFound);
    CHECK(mentions(s, path));
    CHECK(mentions(s, "tokenizer.ggml.model"));
  }
  SUBCASE("no token list") {
    Status s = load_error([](gguf::GgufWriter& w) { add_vocab(w, "tokenizer.ggml.tokens"); }, &path);
    CHECK(s.code() == ErrorCode::kNotFound);
    CHECK(mentions(s, path));
    CHECK(mentions(s, "tokenizer.ggml.tokens"));
  }
  SUBCASE("scores shorter than the token list") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          add_vocab(w, "tokenizer.ggml.scores");
          w.add_array<float>("tokenizer.ggml.scores", {0, 0, 0});
        },
        &path);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message() == path + ": tokenizer.ggml.scores has 3 entries but tokenizer.ggml.tokens has 9");
  }
  SUBCASE("token types longer than the token list") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          add_vocab(w, "tokenizer.ggml.token_type");
          w.add_array<int32_t>("tokenizer.ggml.token_type", {2, 3, 3, 6, 1, 1, 1, 1, 1, 1});
        },
        &path);
    CHECK(s.message() == path + ": tokenizer.ggml.token_type has 10 entries but tokenizer.ggml.tokens has 9");
  }
  SUBCASE("BOS past the end of the vocabulary") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          add_vocab(w);
          w.add_uint32("tokenizer.ggml.bos_token_id", 9);
        },
        &path);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message() == path + ": tokenizer.ggml.bos_token_id = 9 is not a token id (the vocabulary has 9 tokens)");
  }
  SUBCASE("a huge EOS id") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          add_vocab(w);
          w.add_uint64("tokenizer.ggml.eos_token_id", uint64_t{1} << 40);
        },
        &path);
    CHECK(mentions(s, path + ": tokenizer.ggml.eos_token_id = 1099511627776 is not a token id"));
  }
  SUBCASE("a key of the wrong type") {
    Status s = load_error(
        [](gguf::GgufWriter& w) {
          add_vocab(w);
          w.add_string("tokenizer.ggml.add_space_prefix", "yes");
        },
        &path);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(mentions(s, path));
    CHECK(mentions(s, "tokenizer.ggml.add_space_prefix"));
  }
}

}  // namespace
}  // namespace llmos::tokenizer
