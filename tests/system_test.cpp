// End-to-end: a whole llmos system (llmosd, llmos-io, llmos-memory, one
// llmos-model per model) in a temporary runtime directory, driven as a user
// drives it: `llmos up`, `load`, `generate`, `ps`, `unload`, `down`.
#include <doctest/doctest.h>

#include <thread>

#include "system_harness.hpp"

namespace llmos::testing {
namespace {

using namespace std::chrono_literals;

nlohmann::json generate_json(System& sys, const std::string& model, const std::string& prompt) {
  auto r = sys.llmos({"generate", model, prompt, "--temperature", "0", "-n", "64", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(r.out);
}

TEST_CASE("up, load, generate as llama.cpp and generate --local do, unload, down leaves no process") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  CHECK(sys.up_result().out.find("llmos is up") != std::string::npos);
  auto again = sys.llmos({"up"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("already running") != std::string::npos);

  auto load = sys.llmos({"load", stories_model(), "--name", "stories"});
  REQUIRE_MESSAGE(load.exit_code == 0, load.err);
  CHECK(load.out.find("loaded 'stories'") != std::string::npos);

  auto ps = sys.ps();
  REQUIRE(ps["models"].size() == 1);
  CHECK(ps["models"][0]["name"] == "stories");
  CHECK(ps["models"][0]["state"] == "ready");
  CHECK(ps["models"][0]["device"] == "cpu");
  CHECK(ps["models"][0]["memory_bytes"].get<uint64_t>() > 1000000);
  // The kernel's admission estimate is the one `llmos inspect` prints for the same context.
  const auto ctx = ps["models"][0]["ctx"].get<uint64_t>();
  auto inspect = run_process({kLlmos, "inspect", stories_model(), "--json", "--ctx", std::to_string(ctx)});
  REQUIRE_MESSAGE(inspect.exit_code == 0, inspect.err);
  const auto memory = nlohmann::json::parse(inspect.out)["memory"];
  CHECK(memory["weights_bytes"] == ps["models"][0]["weights_bytes"]);
  CHECK(memory["kv_cache_bytes"] == ps["models"][0]["kv_bytes"]);
  std::vector<std::string> names;
  for (const auto& s : ps["services"]) {
    names.push_back(s["name"]);
    CHECK(s["state"] == "running");
    CHECK(s["pid"].get<uint32_t>() > 0);
  }
  CHECK(names == std::vector<std::string>{"io", "memory", "model:stories"});

  const auto golden = golden_generate();
  for (const auto& c : golden["cases"]) {
    const std::string prompt = c["prompt"];
    CAPTURE(prompt);
    auto got = generate_json(sys, "stories", prompt);
    const auto ids = got["ids"].get<std::vector<int32_t>>();
    const auto want = c["generated_ids"].get<std::vector<int32_t>>();
    CHECK(got["prompt_tokens"] == c["prompt_ids"].size());
    REQUIRE(ids.size() == want.size());
    const size_t strict = golden_strict_prefix(c);
    for (size_t i = 0; i < strict; ++i) REQUIRE_MESSAGE(ids[i] == want[i], "step " << i);
    // The service path is the engine of `generate --local`: the same object.
    auto local = run_process({kLlmos, "generate", "--local", "--model", stories_model(), "--prompt", prompt,
                              "--temperature", "0", "-n", "64", "--json"});
    REQUIRE_MESSAGE(local.exit_code == 0, local.err);
    CHECK(nlohmann::json::parse(local.out) == got);
  }

  // Streaming text output (no --json) ends with a newline.
  auto text = sys.llmos({"generate", "stories", "Once upon a time", "--temperature", "0", "-n", "8"});
  CHECK(text.exit_code == 0);
  CHECK(text.out.size() > 8);

  auto stats = sys.llmos({"stats", "--json"});
  REQUIRE(stats.exit_code == 0);
  auto s = nlohmann::json::parse(stats.out);
  CHECK(s["requests_completed"].get<uint64_t>() >= 6);
  CHECK(s["generated_tokens"].get<uint64_t>() >= 5 * 64);

  const pid_t model_pid = sys.service_pid("model:stories");
  REQUIRE(model_pid > 0);
  auto unload = sys.llmos({"unload", "stories"});
  REQUIRE_MESSAGE(unload.exit_code == 0, unload.err);
  CHECK(wait_gone({model_pid}, 5s).empty());
  CHECK(sys.ps()["models"].empty());
  auto after = sys.llmos({"generate", "stories", "hello", "-n", "4"});
  CHECK(after.exit_code != 0);
  CHECK_MESSAGE(after.err.find("model 'stories:latest' is not") != std::string::npos, after.err);  // loaded, or in the store

  const auto pids = sys.pids();
  CHECK(pids.size() >= 4);  // kernel, io, memory, the model
  auto down = sys.llmos({"down"});
  REQUIRE(down.exit_code == 0);
  CHECK(down.out.find("llmos is down") != std::string::npos);
  CHECK(wait_gone(pids, 1s).empty());  // `down` returns when everything is gone
  CHECK(sys.llmos({"down"}).out.find("was not running") != std::string::npos);
  CHECK(sys.llmos({"ps"}).exit_code != 0);
}

TEST_CASE("four concurrent clients each get the tokens they get alone") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  const auto golden = golden_generate();
  const auto& cases = golden["cases"];
  constexpr int kClients = 4;
  std::vector<std::vector<uint32_t>> got(kClients);
  std::vector<std::string> errors(kClients);
  client::GenerateOptions seeded;
  seeded.model = "s";
  seeded.prompt = "The little dog";
  seeded.sampling.temperature = 0.9f;
  seeded.fix_seed(1234);
  seeded.max_tokens = 48;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto io = client::IoClient::connect(sys.dir());
      if (!io.ok()) {
        errors[size_t(i)] = io.status().to_string();
        return;
      }
      // Three greedy golden prompts and one seeded sample, all at once.
      auto opts = i < 3 ? greedy("s", cases[size_t(i)]["prompt"]) : seeded;
      auto r = io->generate(opts, nullptr);
      if (!r.ok()) {
        errors[size_t(i)] = r.status().to_string();
        return;
      }
      got[size_t(i)] = r->ids;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) REQUIRE_MESSAGE(errors[size_t(i)].empty(), errors[size_t(i)]);
  for (int i = 0; i < 3; ++i) {
    const auto& c = cases[size_t(i)];
    const auto want = c["generated_ids"].get<std::vector<uint32_t>>();
    REQUIRE(got[size_t(i)].size() == want.size());
    for (size_t k = 0; k < golden_strict_prefix(c); ++k) REQUIRE(got[size_t(i)][k] == want[k]);
  }
  auto io = sys.io();
  auto alone = io.generate(seeded, nullptr);
  REQUIRE(alone.ok());
  CHECK(alone->ids == got[3]);
  CHECK(alone->ids.size() == 48);
}

TEST_CASE("the shell runs the commands it reads; chat keeps a conversation that can be saved") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  auto shell = run_with_input({kLlmos, "shell"},
                              "load " + stories_model() + " --name s --device cpu\n"
                              "ps\n"
                              "generate s 'Once upon a time' -n 6 --temperature 0\n"
                              "frobnicate\n"
                              "exit\n");
  CHECK(shell.out.find("loaded 's'") != std::string::npos);
  CHECK(shell.out.find("model:s") != std::string::npos);
  CHECK(shell.out.find(", there was a little") != std::string::npos);
  CHECK(shell.err.find("unknown command 'frobnicate'") != std::string::npos);

  auto chat = run_with_input({kLlmos, "chat", "s", "--temperature", "0", "-n", "6"},
                             "Once upon a time\n/save tale\nThe end\n/exit\n");
  CHECK_MESSAGE(chat.exit_code == 0, chat.err);
  CHECK(chat.out.find(", there was a little") != std::string::npos);
  CHECK(chat.out.find("saved as session 'tale'") != std::string::npos);
  auto list = sys.llmos({"session", "list"});
  CHECK(list.out.find("tale") != std::string::npos);
  CHECK(list.out.find("current") != std::string::npos);
  // One-shot: keep the current conversation, start another, bring the first back.
  REQUIRE(sys.llmos({"session", "save", "first"}).exit_code == 0);
  auto other = run_with_input({kLlmos, "chat", "s", "--temperature", "0", "-n", "3"}, "Tim found a box\n");
  CHECK(other.exit_code == 0);
  auto restore = sys.llmos({"session", "restore", "first"});
  REQUIRE_MESSAGE(restore.exit_code == 0, restore.err);
  auto resumed = run_with_input({kLlmos, "chat", "s", "--continue", "--temperature", "0", "-n", "3"}, "And then\n");
  CHECK(resumed.exit_code == 0);
  auto after = sys.llmos({"session", "list"});
  CHECK(after.out.find("first") != std::string::npos);
  CHECK(sys.llmos({"session", "restore", "nope"}).err.find("no saved session named 'nope'") != std::string::npos);
  // The saved session continues where the first turn ended.
  auto more = sys.llmos({"generate", "s", " The end", "--temperature", "0", "-n", "4", "--session", "tale", "--json"});
  REQUIRE_MESSAGE(more.exit_code == 0, more.err);
  CHECK(nlohmann::json::parse(more.out)["prompt_tokens"].get<uint32_t>() > 11);
}

// Three turns of one saved session; returns each turn's JSON and the stats.
std::pair<std::vector<nlohmann::json>, nlohmann::json> three_turns(std::vector<std::string> env) {
  System sys({}, std::move(env));
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "s"}).exit_code == 0);
  std::vector<nlohmann::json> turns;
  for (const char* text : {"Once upon a time", " Then the dog", " At last"}) {
    auto r = sys.llmos({"generate", "s", text, "--temperature", "0", "-n", "40", "--session", "conv", "--json"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    turns.push_back(nlohmann::json::parse(r.out));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a heartbeat brings the last counts
  auto stats = sys.llmos({"stats", "--json"});
  REQUIRE(stats.exit_code == 0);
  return {turns, nlohmann::json::parse(stats.out)};
}

TEST_CASE("a conversation's later turns reuse the KV of its earlier ones, and generate what they would without") {
  const auto [cached, with] = three_turns({});
  const auto [plain, without] = three_turns({"LLMOS_PREFIX_CACHE=0"});
  REQUIRE(cached.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(cached[i]["ids"] == plain[i]["ids"]);
    CHECK(cached[i]["text"] == plain[i]["text"]);
  }
  // Turn 2's prompt holds turn 1's prompt and answer, turn 3's both of those.
  CHECK(cached[2]["prompt_tokens"].get<uint64_t>() > cached[1]["prompt_tokens"].get<uint64_t>() + 40);
  CHECK(with["prefix_cache_hits"].get<uint64_t>() == 2);
  CHECK(with["prefix_cache_tokens"].get<uint64_t>() >= 64);
  CHECK(without["prefix_cache_hits"].get<uint64_t>() == 0);
  MESSAGE("prompt tokens " << with["prompt_tokens"] << ", of which " << with["prefix_cache_tokens"]
                           << " came from the prefix cache");
}

}  // namespace
}  // namespace llmos::testing
