// `llmos-bench ipc` and `llmos-bench http` run end to end (smoke tests with
// few iterations; the numbers themselves are for people, see
// docs/performance.md).
#include <doctest/doctest.h>

#include "llmos/client/ipc_bench.hpp"
#include "system_harness.hpp"

namespace llmos::testing {
namespace {

TEST_CASE("the IPC benchmark measures round trips and tokens/s on a system of its own") {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string model = stories_model();
  std::vector<std::string> args = {"ipc", "--quick", "--json", "--bin-dir", LLMOS_BIN_DIR, "--model", model};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CHECK(client::run_ipc_bench(int(argv.size()), argv.data()) == 0);
  reap_children();
}


TEST_CASE("the HTTP benchmark streams completions from a system of its own") {
  auto r = run_process({LLMOS_BIN_DIR "/llmos-bench", "http", "--quick", "--json", "--model", stories_model()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["concurrent"]["failures"] == 0);
  CHECK(j["concurrent"]["generated_tokens"].get<int>() == 2 * 16);
  CHECK(j["single_stream"]["http_first_token_ms"].get<double>() > 0);
  reap_children();
}

}  // namespace
}  // namespace llmos::testing
