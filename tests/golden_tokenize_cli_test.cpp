// `llmos tokenize` as a user runs it on the vocab-only files of models/vocab/:
// --json prints llama.cpp's ids for cases of golden/tokenize, no BOS unless
// --bos, control tokens only with --parse-special. Skipped (exit 77, from
// llmos_golden_main) without ../shared.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "shared_dir.hpp"
#include "subprocess.hpp"

namespace llmos {
namespace {

using Ids = std::vector<int32_t>;
const std::string kLlmos = LLMOS_BIN_DIR "/llmos";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Ids tokenize(const std::string& vocab, const std::vector<std::string>& flags, const std::string& text) {
  std::vector<std::string> argv = {kLlmos, "tokenize", "--model", vocab, "--json"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back("--");
  argv.push_back(text);
  const auto r = testing::run_process(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(r.out)["ids"].get<Ids>();
}

TEST_CASE("llmos tokenize --json gives llama.cpp's ids on vocab-only BPE files") {
  const std::string dir = testing::shared_dir();
  for (const std::string name : {"llama-bpe", "qwen2", "gemma-4"}) {
    CAPTURE(name);
    const std::string vocab = dir + "/models/vocab/ggml-vocab-" + name + ".gguf";
    const std::string golden = dir + "/golden/tokenize/ggml-vocab-" + name + ".gguf";
    // The last input of each file, and its expected ids (the README's rules).
    const std::string inputs = read_bytes(golden + ".inp");
    const std::string separator = "\n__ggml_vocab_test__\n";
    std::vector<std::string> cases;
    size_t start = 0;
    for (size_t hit; (hit = inputs.find(separator, start)) != std::string::npos; start = hit + separator.size()) {
      cases.push_back(inputs.substr(start, hit - start));
    }
    if (start < inputs.size()) cases.push_back(inputs.substr(start));
    std::istringstream out(read_bytes(golden + ".out"));
    std::vector<Ids> expected;
    for (std::string line; std::getline(out, line);) {
      std::istringstream numbers(line);
      Ids ids;
      for (int32_t id; numbers >> id;) ids.push_back(id);
      expected.push_back(ids);
    }
    REQUIRE(cases.size() == expected.size());
    for (size_t i : {size_t(1), cases.size() / 2, cases.size() - 1}) {
      CHECK_MESSAGE(tokenize(vocab, {}, cases[i]) == expected[i], "case " << i);
    }
  }
}

TEST_CASE("llmos tokenize: BOS only with --bos, control tokens only with --parse-special") {
  const std::string vocab = testing::shared_dir() + "/models/vocab/ggml-vocab-qwen2.gguf";
  CHECK(tokenize(vocab, {"--parse-special"}, "Hello<|im_end|>") == Ids{9707, 151645});
  CHECK(tokenize(vocab, {}, "Hello<|im_end|>").size() > 2);
  const std::string llama3 = testing::shared_dir() + "/models/vocab/ggml-vocab-llama-bpe.gguf";
  CHECK(tokenize(llama3, {}, "Hi") == Ids{13347});
  CHECK(tokenize(llama3, {"--bos"}, "Hi") == Ids{128000, 13347});
}

}  // namespace
}  // namespace llmos
