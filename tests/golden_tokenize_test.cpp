// The tokenizer against llama.cpp: every case of golden/tokenize-llama2.json
// must tokenize to exactly the same ids and decode back to its text, and the
// stories260K prompts and generations must tokenize and detokenize as llama.cpp
// did. Skipped (exit 77, from llmos_golden_main) without ../shared.
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "llmos/gguf/gguf_file.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "shared_dir.hpp"

namespace llmos {
namespace {

using tokenizer::TokenId;
using Ids = std::vector<TokenId>;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return nlohmann::json::parse(in);
}

tokenizer::Tokenizer load_tokenizer(const std::string& path) {
  auto file = gguf::GgufFile::open(path);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  auto tok = tokenizer::tokenizer_from_gguf(**file);
  REQUIRE_MESSAGE(tok.ok(), tok.status().to_string());
  return std::move(tok).value();
}

std::string show(const Ids& ids) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? ", " : "") << ids[i];
  s << "]";
  return s.str();
}

std::string stream_decode(const tokenizer::Tokenizer& tok, const Ids& ids) {
  tokenizer::StreamDecoder decoder(tok);
  std::string text;
  for (TokenId id : ids) text += decoder.push(id);
  return text + decoder.finish();
}

TEST_CASE("llama2 vocabulary: ids and round trip match llama.cpp for every case") {
  const std::string dir = testing::shared_dir();
  const nlohmann::json golden = read_json(dir + "/golden/tokenize-llama2.json");
  const tokenizer::Tokenizer tok = load_tokenizer(dir + "/" + golden["model"].get<std::string>());
  const bool add_bos = golden["add_bos"].get<bool>();
  REQUIRE(tok.n_tokens() == 32000);
  REQUIRE_FALSE(golden["cases"].empty());

  int mismatches = 0;
  for (const auto& c : golden["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const Ids expected = c["ids"].get<Ids>();
    const Ids got = tok.encode(text, add_bos);
    mismatches += got != expected;
    CHECK_MESSAGE(got == expected, "text: \"" << text << "\"\n  llama.cpp: " << show(expected)
                                              << "\n  llmos:     " << show(got));
    CHECK_MESSAGE(tok.decode(expected) == text, "decode of " << show(expected) << " is \""
                                                             << tok.decode(expected) << "\", not \""
                                                             << text << "\"");
    CHECK_MESSAGE(stream_decode(tok, expected) == text, "streamed decode of " << show(expected));
  }
  const size_t n_cases = golden["cases"].size();
  MESSAGE((n_cases - mismatches) << " of " << n_cases << " cases match llama.cpp exactly");
}

TEST_CASE("stories260K vocabulary: prompts tokenize and generations detokenize as in llama.cpp") {
  const std::string dir = testing::shared_dir();
  const nlohmann::json golden = read_json(dir + "/golden/generate-stories260K.json");
  const tokenizer::Tokenizer tok = load_tokenizer(dir + "/" + golden["model"].get<std::string>());
  REQUIRE_FALSE(golden["cases"].empty());
  for (const auto& c : golden["cases"]) {
    const std::string prompt = c["prompt"].get<std::string>();
    const Ids prompt_ids = c["prompt_ids"].get<Ids>();
    CHECK_MESSAGE(tok.encode(prompt, /*add_bos=*/true) == prompt_ids,
                  "prompt: \"" << prompt << "\"\n  llama.cpp: " << show(prompt_ids)
                               << "\n  llmos:     " << show(tok.encode(prompt, true)));
    const Ids generated = c["generated_ids"].get<Ids>();
    const std::string text = c["text"].get<std::string>();
    CHECK_MESSAGE(tok.decode(generated) == text, "generation after \"" << prompt << "\"");
    CHECK(stream_decode(tok, generated) == text);
  }
}

}  // namespace
}  // namespace llmos
