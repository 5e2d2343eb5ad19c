// End-to-end bad input: bad model files and loads that do not fit, bad
// requests, and malformed or oversized messages on every socket. Each gets a
// clear error (or is dropped and logged) and the rest of the system keeps
// serving.
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <zmq.hpp>

#include "llmos/ipc/codec.hpp"
#include "system_harness.hpp"

namespace llmos::testing {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// stories260K relabelled as architecture `mamba` (same length as "llama"): the
// general.architecture value and every "llama." key prefix; the tokenizer's
// "llama" model stays. A file the kernel admits but no engine family runs.
std::string as_mamba(std::string bytes) {
  const std::string key = "general.architecture";
  const size_t at = bytes.find(key);
  REQUIRE(at != std::string::npos);
  const size_t value = at + key.size() + 4 + 8;  // the value's type (u32), then its length (u64)
  REQUIRE(bytes.compare(value, 5, "llama") == 0);
  bytes.replace(value, 5, "mamba");
  for (size_t i = bytes.find("llama."); i != std::string::npos; i = bytes.find("llama.", i)) bytes.replace(i, 6, "mamba.");
  return bytes;
}

void check_serving(System& sys, const std::string& model) {
  auto r = sys.llmos({"generate", model, "Once upon a time", "--temperature", "0", "-n", "8", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["ids"].size() == 8);
}

TEST_CASE("bad model files, a taken name, CUDA and a load over the budget: clear errors, the model keeps serving") {
  System sys({"--budget", "2M"});  // one copy of stories260K (1.4 MiB) fits, not two
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "a"}).exit_code == 0);
  const pid_t model = sys.service_pid("model:a");

  const std::string good = read_file(stories_model());
  const auto trunc = sys.dir() / "truncated.gguf";
  const auto corrupt = sys.dir() / "corrupt.gguf";
  write_file(trunc, good.substr(0, good.size() / 2));
  write_file(corrupt, "GGUX" + good.substr(4));
  struct Case {
    std::vector<std::string> args;
    std::string expect;  // in the error line
  };
  std::vector<Case> cases = {
      {{"load", "/nonexistent/missing.gguf"}, "missing.gguf"},
      {{"load", trunc.string()}, "truncated.gguf"},
      {{"load", corrupt.string()}, "corrupt.gguf"},
      {{"load", stories_model(), "--name", "a"}, "already loaded"},
      {{"load", stories_model(), "--name", "c", "--ctx", "100000"}, "context"},
      {{"load", stories_model(), "--name", "bad/name"}, "model name 'bad/name'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args[1]);
    auto r = sys.llmos(c.args);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find(c.expect) != std::string::npos, r.err);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  check_serving(sys, "a");
  CHECK(sys.service_pid("model:a") == model);
  auto ps = sys.ps();
  REQUIRE(ps["models"].size() == 1);
  CHECK(ps["models"][0]["state"] == "ready");
  // A load over the budget evicts the idle model (a busy one never is, and a
  // refusal names what holds the memory: tests/residency_test.sh).
  auto evicting = sys.llmos({"load", stories_model(), "--name", "b"});
  REQUIRE_MESSAGE(evicting.exit_code == 0, evicting.err);
  ps = sys.ps();
  REQUIRE(ps["models"].size() == 1);
  CHECK(ps["models"][0]["name"] == "b");
  REQUIRE(sys.llmos({"unload", "b"}).exit_code == 0);
  // (With the budget free again.) CUDA: a clear `unimplemented` without the driver or a GPU; where both
  // exist the load is real, so this case is only checked when it fails.
  auto cuda = sys.llmos({"load", stories_model(), "--name", "d", "--device", "cuda"});
  if (cuda.exit_code != 0) {
    CHECK_MESSAGE(cuda.err.find("llmos load: unimplemented: ") == 0, cuda.err);
    CHECK(cuda.err.find("CUDA") != std::string::npos);
  } else {
    REQUIRE(sys.llmos({"unload", "d"}).exit_code == 0);
  }
  // An architecture no engine family runs: the model service's one line, and the budget back.
  const auto mamba = sys.dir() / "mamba.gguf";
  write_file(mamba, as_mamba(good));
  auto unsupported = sys.llmos({"load", mamba.string(), "--name", "q"});
  CHECK(unsupported.exit_code == 1);
  CHECK_MESSAGE(unsupported.err == "llmos load: unimplemented: " + mamba.string() +
                                       ": architecture 'mamba' is not supported (supported: llama, mistral, qwen2, "
                                       "qwen3, qwen3moe, phi3, gemma3)\n",
                unsupported.err);
  auto fits = sys.llmos({"load", stories_model(), "--name", "b"});
  CHECK_MESSAGE(fits.exit_code == 0, fits.err);
  check_serving(sys, "b");
}

TEST_CASE("a vocabulary llmos cannot read: the load fails saying why, naming the file and key") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "a"}).exit_code == 0);
  // The kernel checks the vocabulary's size against the weights; the tokens
  // themselves are read by the model service when it loads the file. Token 0's
  // type becomes 9 (types are 0..6).
  std::string bytes = read_file(stories_model());
  const std::string key = "tokenizer.ggml.token_type";
  const size_t at = bytes.find(key);
  REQUIRE(at != std::string::npos);
  const size_t first = at + key.size() + 4 + 4 + 8;  // value type, element type, count
  const int32_t bad_type = 9;
  std::memcpy(&bytes[first], &bad_type, sizeof bad_type);
  const auto broken = sys.dir() / "badvocab.gguf";
  write_file(broken, bytes);

  auto load = sys.llmos({"load", broken.string(), "--name", "b"});
  CHECK(load.exit_code != 0);
  CHECK_MESSAGE(load.err.find("badvocab.gguf: tokenizer.ggml.token_type[0] = 9 is not a token type") != std::string::npos,
                load.err);
  auto r = sys.llmos({"generate", "b", "Once upon a time", "-n", "4"});
  CHECK(r.exit_code != 0);
  check_serving(sys, "a");
}

TEST_CASE("unknown model, a prompt longer than the context, bad sampling values: an error to that client only") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "a"}).exit_code == 0);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "short", "--ctx", "16"}).exit_code == 0);

  // A long generation runs on "a" while the bad requests come and go.
  std::atomic<bool> done{false};
  Result<client::GenerateResult> background = internal_error("not run");
  std::thread t([&] {
    auto io = client::IoClient::connect(sys.dir());
    background = io->generate(greedy("a", "Once upon a time", 200), nullptr);
    done = true;
  });
  std::string long_prompt;
  for (int i = 0; i < 20; ++i) long_prompt += "the little dog ran and ";
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{"generate", "nope", "hello"}, "model 'nope:latest' is not"},  // loaded, or in the store
      {{"generate", "short", long_prompt}, "does not fit the context of 16 tokens"},
      {{"generate", "a", "hi", "--temperature", "-1"}, "temperature"},
      {{"generate", "a", "hi", "--top-p", "0"}, "top_p"},
      {{"generate", "a", "hi", "--min-p", "2"}, "min_p"},
      {{"generate", "a", "hi", "--repeat-penalty", "0"}, "repeat_penalty"},
      {{"generate", "a", "hi", "--max-tokens", "0"}, "max_tokens"},
      {{"generate", "a", "hi", "--priority", "urgent"}, "--priority"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.expect);
    auto r = sys.llmos(c.args);
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.err.find(c.expect) != std::string::npos, r.err);
  }
  t.join();
  REQUIRE_MESSAGE(background.ok(), background.status().to_string());
  CHECK(background->ids.size() == 200);
  check_serving(sys, "short");
  auto stats = nlohmann::json::parse(sys.llmos({"stats", "--json"}).out);
  CHECK(stats["requests_rejected"].get<uint64_t>() >= 5);
}

// Sends raw frames on a fresh ZeroMQ socket of `type` to `endpoint`.
void send_raw(zmq::context_t& ctx, int type, const std::string& endpoint, const std::vector<std::string>& payloads) {
  zmq::socket_t s(ctx, type);
  s.set(zmq::sockopt::linger, 2000);
  s.connect(endpoint);
  for (const auto& p : payloads) s.send(zmq::buffer(p), zmq::send_flags::none);
  std::this_thread::sleep_for(100ms);
}

std::string envelope_of(void (*fill)(ipc::OutgoingMessage&)) {
  ipc::OutgoingMessage out(7);
  fill(out);
  auto frame = ipc::encode(out.builder());
  return std::string(static_cast<const char*>(frame->data()), frame->size());
}

TEST_CASE("garbage and oversized messages on every socket are dropped and logged; every service keeps running") {
  System sys;
  REQUIRE_MESSAGE(sys.up_result().exit_code == 0, sys.up_result().err);
  REQUIRE(sys.llmos({"load", stories_model(), "--name", "a"}).exit_code == 0);
  std::map<std::string, pid_t> before;
  const auto ps_before = sys.ps();
  for (const auto& s : ps_before["services"]) before[s["name"]] = pid_t(s["pid"].get<uint32_t>());

  const std::string garbage(24, '\xab');
  const std::string oversized(20 << 20, 'x');  // beyond every socket's limit
  const std::string wrong_version = [] {
    ipc::OutgoingMessage out(9);
    out.envelope().setVersion(99);
    out.body().initPing();
    auto f = ipc::encode(out.builder());
    return std::string(static_cast<const char*>(f->data()), f->size());
  }();
  const std::string unexpected = envelope_of([](ipc::OutgoingMessage& o) { o.body().initTextEvent(); });
  const std::string stray_tokens = envelope_of([](ipc::OutgoingMessage& o) { o.body().initTokenEvent().setDone(true); });
  zmq::context_t ctx;
  auto ep = [&](const char* name) { return "ipc://" + (sys.dir() / (std::string(name) + ".sock")).string(); };
  send_raw(ctx, ZMQ_DEALER, ep("kernel"), {garbage, wrong_version, unexpected, oversized});
  send_raw(ctx, ZMQ_DEALER, ep("io"), {garbage, wrong_version, unexpected, oversized});
  send_raw(ctx, ZMQ_PUSH, ep("tokens"), {garbage, stray_tokens, oversized});
  send_raw(ctx, ZMQ_DEALER, ep("memory"), {garbage, unexpected, oversized});
  send_raw(ctx, ZMQ_DEALER, ep("kernel"), {"", std::string(8, '\0')});

  check_serving(sys, "a");
  const auto ps_after = sys.ps();
  for (const auto& s : ps_after["services"]) {
    CAPTURE(s["name"].get<std::string>());
    CHECK(s["restarts"] == 0);
    CHECK(pid_t(s["pid"].get<uint32_t>()) == before[s["name"]]);
  }
  const std::string log = sys.log();
  for (const char* sock : {"kernel.sock", "io.sock", "tokens.sock", "memory.sock"}) {
    CAPTURE(sock);
    const bool logged = log.find(std::string(sock) + ", peer") != std::string::npos ||
                        log.find(std::string(sock) + ": dropped") != std::string::npos;
    CHECK(logged);
  }
  CHECK(log.find("protocol version 99") != std::string::npos);
  CHECK(log.find("dropped a 'textEvent' message") != std::string::npos);
}

}  // namespace
}  // namespace llmos::testing
