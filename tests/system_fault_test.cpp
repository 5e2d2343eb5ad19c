// End-to-end recovery: kill -9 of each service in the middle of the work, and
// of the kernel itself. The model services step slowly here
// (LLMOS_TEST_STEP_DELAY_MS) so that a kill lands mid-generation.
#include <doctest/doctest.h>

#include "llmos/ipc/kv_arena.hpp"
#include "system_harness.hpp"

namespace llmos::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kSlowSteps = {"LLMOS_TEST_STEP_DELAY_MS=15"};

// Generates `opts`, killing `victim` (SIGKILL) once `after` tokens arrived.
Result<client::GenerateResult> generate_killing(client::IoClient& io, const client::GenerateOptions& opts,
                                                pid_t victim, size_t after) {
  size_t seen = 0;
  bool killed = false;
  auto r = io.generate(opts, [&](std::string_view, std::span<const uint32_t> ids) {
    seen += ids.size();
    if (!killed && seen >= after) {
      ::kill(victim, SIGKILL);
      killed = true;
    }
  });
  REQUIRE(killed);
  return r;
}

TEST_CASE("kill -9 of the model service mid-generation: the request ends with exactly the undisturbed tokens, "
          "and the replacement reuses the KV left in the arena") {
  System sys({}, kSlowSteps);
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  auto io = sys.io();

  client::GenerateOptions seeded;
  seeded.model = "s";
  seeded.prompt = "Lily and Tom went to the park";
  seeded.sampling.temperature = 0.8f;
  seeded.fix_seed(99);
  seeded.max_tokens = 40;
  for (const auto& opts : {greedy("s", "Once upon a time", 40), seeded}) {
    CAPTURE(opts.sampling.temperature);
    auto undisturbed = io.generate(opts, nullptr);
    REQUIRE_MESSAGE(undisturbed.ok(), undisturbed.status().to_string());
    REQUIRE(undisturbed->ids.size() == 40);

    const pid_t model = sys.service_pid("model:s");
    REQUIRE(model > 0);
    auto disturbed = generate_killing(io, opts, model, 12);
    REQUIRE_MESSAGE(disturbed.ok(), disturbed.status().to_string());
    CHECK(disturbed->ids == undisturbed->ids);
    CHECK(disturbed->text == undisturbed->text);
    CHECK(disturbed->finish_reason == FinishReason::kLength);
    CHECK(wait_gone({model}, 2s).empty());
    const pid_t replacement = sys.service_pid("model:s");
    CHECK(replacement > 0);
    CHECK(replacement != model);
  }
  auto ps = sys.ps();
  for (const auto& s : ps["services"]) {
    if (s["name"] == "model:s") CHECK(s["restarts"] == 2);
  }
  std::this_thread::sleep_for(500ms);  // a heartbeat brings the last counts
  auto stats = nlohmann::json::parse(sys.llmos({"stats", "--json"}).out);
  MESSAGE(stats.dump());
  CHECK(stats["redispatches"].get<uint64_t>() >= 2);
  CHECK(stats["service_restarts"].get<uint64_t>() >= 2);
  // Each replacement found the request in the arena's sequence table and
  // adopted the KV of every token the kernel re-dispatched but the last (at
  // least the prompts, 5 and 12 tokens; the generated tokens the kernel heard
  // of depend on when the last heartbeat left), computing none of them again.
  CHECK(stats["tokens_adopted"].get<uint64_t>() >= (5 - 1) + (12 - 1));
  CHECK(stats["tokens_recomputed"].get<uint64_t>() == 0);
  const std::string log = sys.log();
  CHECK(log.find("left by a previous llmos-model; kept 1") != std::string::npos);
  CHECK(log.find("adopting the KV of up to") != std::string::npos);
}

TEST_CASE("unload drains: the generation in flight finishes, a request that comes meanwhile waits, the model goes "
          "and loads again for it") {
  System sys({}, kSlowSteps);
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  auto io = sys.io();
  const auto opts = greedy("s", "Once upon a time", 40);
  auto undisturbed = io.generate(opts, nullptr);
  REQUIRE(undisturbed.ok());
  ProcessResult unload;
  Status late;
  bool started = false;
  std::thread unloader, latecomer;
  auto r = io.generate(opts, [&](std::string_view, std::span<const uint32_t>) {
    if (started) return;
    started = true;
    unloader = std::thread([&] { unload = run_process({kLlmos, "unload", "s"}); });
    latecomer = std::thread([&] {
      std::this_thread::sleep_for(200ms);  // the unload has begun; the generation has not ended
      auto other = client::IoClient::connect(sys.dir());
      late = other.ok() ? other->generate(greedy("s", "Tim", 4), nullptr).status() : other.status();
    });
  });
  unloader.join();
  latecomer.join();
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->ids == undisturbed->ids);
  CHECK_MESSAGE(unload.exit_code == 0, unload.err);
  // The latecomer's tokenizer was cached, yet it asked the kernel, which held
  // it until the unload was done and then loaded the model again.
  CHECK_MESSAGE(late.ok(), late.to_string());
  const std::string log = sys.log();
  CHECK(log.find("model 's' is being unloaded; it loads again when it is gone") != std::string::npos);
  CHECK(log.find("loading model 's' again for 1 request(s)") != std::string::npos);
  CHECK(sys.ps()["models"].size() == 1);
}

TEST_CASE("kill -9 of llmos-io: the client gets a clear error, and a retry works once it is back") {
  System sys({}, kSlowSteps);
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  auto io = sys.io();
  const auto opts = greedy("s", "The little dog", 30);
  auto undisturbed = io.generate(opts, nullptr);
  REQUIRE(undisturbed.ok());

  const pid_t io_pid = sys.service_pid("io");
  REQUIRE(io_pid > 0);
  auto broken = generate_killing(io, opts, io_pid, 5);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().code() == ErrorCode::kDisconnected);
  CHECK(broken.status().message().find("llmos-io") != std::string::npos);

  Result<client::GenerateResult> retry = disconnected("not tried");
  for (int attempt = 0; attempt < 50 && !retry.ok(); ++attempt) {
    retry = io.generate(opts, nullptr, nullptr, 10000ms);
    if (!retry.ok()) std::this_thread::sleep_for(200ms);
  }
  REQUIRE_MESSAGE(retry.ok(), retry.status().to_string());
  CHECK(retry->ids == undisturbed->ids);
  const pid_t new_io = sys.service_pid("io");
  CHECK(new_io != io_pid);
  // The command line works against the new llmos-io too.
  CHECK(sys.llmos({"generate", "s", "Tim found a box", "-n", "4"}).exit_code == 0);
}

TEST_CASE("kill -9 of llmos-memory: it is restarted and saved sessions are still there") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  auto first = sys.llmos({"generate", "s", "Once upon a time", "--temperature", "0", "-n", "8", "--session", "talk"});
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const pid_t memory = sys.service_pid("memory");
  REQUIRE(memory > 0);
  ::kill(memory, SIGKILL);
  REQUIRE(wait_gone({memory}, 2s).empty());
  std::string list;
  for (int i = 0; i < 50; ++i) {
    auto r = sys.llmos({"session", "list"});
    if (r.exit_code == 0 && r.out.find("talk") != std::string::npos) {
      list = r.out;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  CHECK(list.find("talk") != std::string::npos);
  CHECK(sys.service_pid("memory") != memory);
  // The conversation continues from the 5 + 8 saved tokens.
  auto more = sys.llmos({"generate", "s", " The end.", "--temperature", "0", "-n", "4", "--session", "talk", "--json"});
  REQUIRE_MESSAGE(more.exit_code == 0, more.err);
  CHECK(nlohmann::json::parse(more.out)["prompt_tokens"].get<uint32_t>() > 13);
}

TEST_CASE("kill -9 of llmosd: every service exits, and `down` cleans up after it") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  const pid_t kernel = sys.kernel_pid();
  REQUIRE(kernel > 0);
  const auto pids = sys.pids();
  REQUIRE(pids.size() == 4);
  const std::string arena = "/dev/shm" + ipc::kv_arena_name(sys.dir(), "s");
  CHECK(std::filesystem::exists(arena));
  ::kill(kernel, SIGKILL);
  CHECK(wait_gone(pids, 5s).empty());
  auto down = sys.llmos({"down"});
  CHECK(down.exit_code == 0);
  CHECK(down.out.find("was not running") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(arena));
  // And the system starts again in the same directory.
  auto up = sys.llmos({"up"});
  CHECK_MESSAGE(up.exit_code == 0, up.err);
  sys.record_pids();
}

}  // namespace
}  // namespace llmos::testing
