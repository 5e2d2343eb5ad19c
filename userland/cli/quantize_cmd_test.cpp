// `llmos quantize` as a user runs it: a stories260K file in q4_k_m gets
// llama-quantize's tensor types and loads; a bad type name or missing argument
// is exit 2, a file that is not GGUF or holds quantized weights exit 1, each
// with one line on stderr naming the input. Skipped (77) without ../shared.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "llmos/gguf/gguf_file.hpp"
#include "shared_dir.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"

namespace llmos::cli {
namespace {

using llmos::testing::run_process;
const std::string kLlmos = LLMOS_BIN_DIR "/llmos";

using llmos::testing::TempDir;

TEST_CASE("llmos quantize writes stories260K in q4_k_m with llama-quantize's types") {
  TempDir dir;
  const std::string shared = llmos::testing::shared_dir();
  auto r = run_process({kLlmos, "quantize", shared + "/models/stories260K.gguf", dir.file("q.gguf"), "--type",
                        "Q4_K_M", "--threads", "2"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("q4_k_m") != std::string::npos);
  auto ours = gguf::GgufFile::open(dir.file("q.gguf"));
  auto ref = gguf::GgufFile::open(shared + "/models/quant/stories260K-Q4_K_M.gguf");
  REQUIRE(ours.ok());
  REQUIRE(ref.ok());
  REQUIRE((*ours)->tensors().size() == (*ref)->tensors().size());
  for (const auto& t : (*ref)->tensors()) CHECK_MESSAGE((*ours)->find_tensor(t.name)->type == t.type, t.name);
}

TEST_CASE("llmos quantize refuses bad usage and bad input with one line naming it") {
  TempDir dir;
  const std::string shared = llmos::testing::shared_dir();
  const std::string src = shared + "/models/stories260K.gguf";
  auto bad_type = run_process({kLlmos, "quantize", src, dir.file("o.gguf"), "--type", "q4_k"});
  CHECK(bad_type.exit_code == 2);
  CHECK(bad_type.err.find("unknown quantization type 'q4_k'") != std::string::npos);
  auto no_type = run_process({kLlmos, "quantize", src, dir.file("o.gguf")});
  CHECK(no_type.exit_code == 2);
  CHECK(no_type.err.find("--type") != std::string::npos);
  std::ofstream(dir.file("notes.txt")) << "not a model\n";
  auto not_gguf = run_process({kLlmos, "quantize", dir.file("notes.txt"), dir.file("o.gguf"), "--type", "q8_0"});
  CHECK(not_gguf.exit_code == 1);
  CHECK(not_gguf.err.find("notes.txt") != std::string::npos);
  auto requant = run_process({kLlmos, "quantize", shared + "/models/quant/rand3m-Q4_0.gguf", dir.file("o.gguf"),
                              "--type", "q6_k"});
  CHECK(requant.exit_code == 1);
  CHECK(requant.err.find("'token_embd.weight' is already q4_0") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("o.gguf")));
}

}  // namespace
}  // namespace llmos::cli
