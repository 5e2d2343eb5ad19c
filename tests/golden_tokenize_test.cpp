// The tokenizer against llama.cpp: every case of golden/tokenize-llama2.json
// must tokenize to exactly the same ids and decode back to its text, the
// stories260K prompts and generations must tokenize and detokenize as llama.cpp
// did, and every case of every vocabulary in golden/tokenize/ (llama.cpp's own
// test-tokenizer-0 data, vocab-only GGUF files) must give llama.cpp's ids.
// Skipped (exit 77, from llmos_golden_main) without ../shared.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <algorithm>
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

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The inputs of a .inp file, cut as test-tokenizer-0 does (see the README of
// golden/tokenize): the separator's newlines belong to it, not to the inputs.
std::vector<std::string> read_inputs(const std::string& path) {
  static constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
  const std::string bytes = read_bytes(path);
  std::vector<std::string> inputs;
  size_t start = 0;
  for (size_t hit; (hit = bytes.find(kSeparator, start)) != std::string::npos; start = hit + kSeparator.size()) {
    inputs.push_back(bytes.substr(start, hit - start));
  }
  if (start < bytes.size()) inputs.push_back(bytes.substr(start));
  return inputs;
}

std::vector<Ids> read_expected(const std::string& path) {
  std::istringstream in(read_bytes(path));
  std::vector<Ids> cases;
  for (std::string line; std::getline(in, line);) {
    std::istringstream numbers(line);
    Ids ids;
    for (TokenId id; numbers >> id;) ids.push_back(id);
    cases.push_back(std::move(ids));
  }
  return cases;
}

std::string attributes_text(uint32_t a) {
  std::string out;
  auto add = [&](uint32_t bit, const char* name) {
    if (a & bit) out += (out.empty() ? "" : "|") + std::string(name);
  };
  add(tokenizer::kAttrUnknown, "UNKNOWN");
  add(tokenizer::kAttrUnused, "UNUSED");
  add(tokenizer::kAttrNormal, "NORMAL");
  add(tokenizer::kAttrControl, "CONTROL");
  add(tokenizer::kAttrUserDefined, "USER_DEFINED");
  add(tokenizer::kAttrByte, "BYTE");
  add(tokenizer::kAttrLstrip, "LSTRIP");
  add(tokenizer::kAttrRstrip, "RSTRIP");
  return out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "\n    " + line;
  return out;
}

std::vector<std::string> golden_vocabularies(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/golden/tokenize")) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".gguf.inp";
    if (file.size() > suffix.size() && file.ends_with(suffix)) {
      names.push_back(file.substr(0, file.size() - suffix.size() + 5));  // "ggml-vocab-X.gguf"
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("every vocabulary of golden/tokenize: ids, special tokens and round trip match llama.cpp") {
  const std::string dir = testing::shared_dir();
  const std::vector<std::string> vocabularies = golden_vocabularies(dir);
  REQUIRE(vocabularies.size() >= 14);
  for (const std::string& vocab : vocabularies) {
    CAPTURE(vocab);
    const std::string golden = dir + "/golden/tokenize/" + vocab;
    const tokenizer::Tokenizer tok = load_tokenizer(dir + "/models/vocab/" + vocab);
    const nlohmann::json special = read_json(golden + ".special.json");
    CHECK(tok.n_tokens() == special["n_tokens"].get<TokenId>());
    CHECK(tok.add_bos() == special["add_bos"].get<bool>());
    CHECK(tok.bos_id() == special["bos"].get<TokenId>());
    CHECK(tok.eos_id() == special["eos"].get<TokenId>());
    // Every token with a special attribute, as llama.cpp resolves them.
    std::vector<std::string> expected_special, got_special;
    for (const auto& row : special["special"]) {
      expected_special.push_back(std::to_string(row[0].get<TokenId>()) + " " + row[2].get<std::string>() +
                                 (row[3].get<bool>() ? " eog" : ""));
    }
    constexpr uint32_t kListed = tokenizer::kAttrControl | tokenizer::kAttrUserDefined | tokenizer::kAttrUnknown |
                                 tokenizer::kAttrUnused | tokenizer::kAttrLstrip | tokenizer::kAttrRstrip;
    std::sort(expected_special.begin(), expected_special.end());
    for (TokenId id = 0; id < tok.n_tokens(); ++id) {
      const uint32_t a = tok.token_attributes(id);
      if (a & kListed) {
        got_special.push_back(std::to_string(id) + " " + attributes_text(a) +
                              (tok.is_end_of_generation(id) ? " eog" : ""));
      }
    }
    std::sort(got_special.begin(), got_special.end());
    std::vector<std::string> missing, extra;
    std::set_difference(expected_special.begin(), expected_special.end(), got_special.begin(), got_special.end(),
                        std::back_inserter(missing));
    std::set_difference(got_special.begin(), got_special.end(), expected_special.begin(), expected_special.end(),
                        std::back_inserter(extra));
    CHECK_MESSAGE(missing.empty(), "llama.cpp has, llmos not: " << join(missing));
    CHECK_MESSAGE(extra.empty(), "llmos has, llama.cpp not: " << join(extra));

    const std::vector<std::string> inputs = read_inputs(golden + ".inp");
    const std::vector<Ids> expected = read_expected(golden + ".out");
    REQUIRE(inputs.size() == expected.size());
    int mismatches = 0, round_trips = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Ids got = tok.encode(inputs[i], /*add_bos=*/false, /*parse_special=*/false);
      mismatches += got != expected[i];
      // Every input of these files is valid UTF-8 that the vocabulary can
      // spell, so llama.cpp's ids decode back to it, whole and streamed.
      const bool round_trip = tok.decode(expected[i]) == inputs[i];
      round_trips += round_trip;
      CHECK_MESSAGE(round_trip, vocab << " case " << i << " decodes to \"" << tok.decode(expected[i]) << "\"");
      CHECK_MESSAGE(stream_decode(tok, expected[i]) == inputs[i], vocab << " case " << i << " streamed");
      CHECK_MESSAGE(got == expected[i], vocab << " case " << i << ": \"" << inputs[i]
                                              << "\"\n  llama.cpp: " << show(expected[i])
                                              << "\n  llmos:     " << show(got));
    }
    MESSAGE(vocab << ": " << (inputs.size() - mismatches) << " of " << inputs.size() << " cases match, " << round_trips << " round trips");
  }
}

}  // namespace
}  // namespace llmos
