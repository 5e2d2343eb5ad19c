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

TEST_CASE("the cold-start benchmark times requests for an unloaded stored model to their first token") {
  auto r = run_process({LLMOS_BIN_DIR "/llmos-bench", "cold", "--json", "--repeat", "2", "--bin-dir", LLMOS_BIN_DIR,
                        "--model", stories_model()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["bench"] == "cold");
  REQUIRE(j["page_cache_ms"].size() == 2);
  for (const auto& ms : j["page_cache_ms"]) CHECK(ms.get<double>() > 0);
  CHECK(j["best_page_cache_ms"].get<double>() > 0);
  CHECK_FALSE(j.contains("dropped_cache_ms"));  // only as root with --drop-caches
  CHECK(j["bytes"].get<uint64_t>() == std::filesystem::file_size(stories_model()));
  reap_children();
}

}  // namespace
}  // namespace llmos::testing
