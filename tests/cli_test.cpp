// The `llmos` command line as a user runs it: bad model files give exactly one
// error line naming the file and a non-zero exit, never a crash; generation
// and tokenization print what they promise. Uses a model written by
// llmos-mkmodel, so it needs no download and no ../shared.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "subprocess.hpp"
#include "temp_dir.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;
using testing::run_process;

const std::string kLlmos = LLMOS_BIN_DIR "/llmos";
const std::string kMkmodel = LLMOS_BIN_DIR "/llmos-mkmodel";

using llmos::testing::TempDir;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const fs::path& tiny_model() {
  static TempDir dir;
  static fs::path model = [] {
    fs::path p = dir.path() / "tiny.gguf";
    auto r = run_process({kMkmodel, "--out", p.string(), "--preset", "tiny", "--type", "q8_0", "--seed", "5"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return p;
  }();
  return model;
}

TEST_CASE("every corrupt model file gets one error line naming the file, for inspect and generate") {
  TempDir dir;
  const std::string good = read_file(tiny_model());
  REQUIRE(good.size() > 4096);
  struct Case {
    std::string name;
    std::string bytes;
  };
  std::vector<Case> cases = {
      {"empty.gguf", ""},
      {"magic.gguf", "XXXX" + good.substr(4)},
      {"version.gguf", good.substr(0, 4) + std::string("\x09\x00\x00\x00", 4) + good.substr(8)},
      {"header-only.gguf", good.substr(0, 20)},
      {"half.gguf", good.substr(0, good.size() / 2)},
      {"last-byte-missing.gguf", good.substr(0, good.size() - 1)},
      {"tensor-count.gguf", good.substr(0, 8) + std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + good.substr(16)},
      {"kv-count.gguf", good.substr(0, 16) + std::string("\xff\xff\xff\xff\xff\xff\xff\x0f", 8) + good.substr(24)},
  };
  // A byte flipped in each of many places of the header and tables: whatever
  // it breaks, the answer is an error or a valid file, never a crash.
  for (size_t off = 24; off < 4096; off += 97) {
    std::string b = good;
    b[off] = char(b[off] ^ 0xff);
    cases.push_back({"flip-" + std::to_string(off) + ".gguf", b});
  }
  for (const auto& c : cases) {
    const fs::path p = dir.path() / c.name;
    write_file(p, c.bytes);
    for (auto argv : {std::vector<std::string>{kLlmos, "inspect", p.string()},
                      std::vector<std::string>{kLlmos, "generate", "--local", "--model", p.string(), "--prompt",
                                               "hi", "--max-tokens", "2"}}) {
      auto r = run_process(argv);
      CAPTURE(c.name);
      CAPTURE(argv[1]);
      CAPTURE(r.err);
      CHECK(r.exit_code < 128);  // not killed by a signal
      if (c.name.rfind("flip-", 0) == 0 && r.exit_code == 0) continue;  // the flip hit a harmless byte
      CHECK(r.exit_code != 0);
      CHECK(count_lines(r.err) == 1);
      CHECK(r.err.find(c.name) != std::string::npos);
    }
  }
}

TEST_CASE("a missing model file is named in the error") {
  auto r = run_process({kLlmos, "inspect", "/nonexistent/model.gguf"});
  CHECK(r.exit_code == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("/nonexistent/model.gguf") != std::string::npos);
}

TEST_CASE("inspect shows the family and the memory estimate the kernel makes: KV in whole blocks of 16") {
  auto inspect = [](const std::string& ctx) {
    auto r = run_process({kLlmos, "inspect", tiny_model().string(), "--json", "--ctx", ctx});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return nlohmann::json::parse(r.out);
  };
  const auto a = inspect("97"), b = inspect("112");
  CHECK(a["architecture"] == "llama");
  CHECK(a["family"] == "llama");
  const auto& h = a["hyperparameters"];
  const auto& m = a["memory"];
  CHECK(m["kv_cache_tokens"] == 112);
  CHECK(m["kv_cache_bytes"] == b["memory"]["kv_cache_bytes"]);
  CHECK(m["kv_cache_bytes"].get<uint64_t>() ==
        h["block_count"].get<uint64_t>() * 112 * h["head_count_kv"].get<uint64_t>() *
            (h["head_dim"].get<uint64_t>() + h["value_head_dim"].get<uint64_t>()) * 2);
  CHECK(m["total_bytes"].get<uint64_t>() == m["weights_bytes"].get<uint64_t>() + m["kv_cache_bytes"].get<uint64_t>());
  auto text = run_process({kLlmos, "inspect", tiny_model().string()});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("\nfamily:        llama\n") != std::string::npos);
}

TEST_CASE("generate --json prints the generated ids and their text; greedy runs repeat exactly") {
  const std::vector<std::string> argv = {kLlmos, "generate", "--local", "--model", tiny_model().string(),
                                         "--prompt", "hello world", "--max-tokens", "12", "--temperature",
                                         "0", "--json"};
  auto a = run_process(argv);
  REQUIRE_MESSAGE(a.exit_code == 0, a.err);
  auto j = nlohmann::json::parse(a.out);
  CHECK(j["ids"].size() <= 12);
  CHECK(j["text"].is_string());
  auto b = run_process(argv);
  CHECK(a.out == b.out);
}

TEST_CASE("seeded sampling repeats with the same seed") {
  auto run = [](const std::string& seed) {
    return run_process({kLlmos, "generate", "--local", "--model", tiny_model().string(), "--prompt", "abc",
                        "--max-tokens", "16", "--temperature", "1.5", "--top-k", "0", "--top-p", "1", "--min-p",
                        "0", "--seed", seed, "--json"});
  };
  auto a = run("7"), b = run("7"), c = run("8");
  REQUIRE(a.exit_code == 0);
  CHECK(a.out == b.out);
  CHECK(a.out != c.out);
}

TEST_CASE("bad arguments are refused with a message naming the option") {
  auto r = run_process({kLlmos, "generate", "--local", "--model", tiny_model().string(), "--prompt", "x",
                        "--temperature", "-1"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("temperature") != std::string::npos);
  r = run_process({kLlmos, "frobnicate"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("frobnicate") != std::string::npos);
}

TEST_CASE("llmosd run by hand refuses a malformed --http before it starts anything") {
  TempDir dir;
  auto r = run_process({LLMOS_BIN_DIR "/llmosd", "--runtime-dir", (dir.path() / "rt").string(), "--http", "localhost"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find("--http 'localhost' is not ADDR:PORT") != std::string::npos, r.err);
  CHECK(!fs::exists(dir.path() / "rt"));  // nothing started, not even the runtime directory
}

}  // namespace
}  // namespace llmos
