// `llmos-bench ipc` runs end to end (a smoke test with few iterations; the
// numbers themselves are for people, see docs/microkernel.md).
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

}  // namespace
}  // namespace llmos::testing
