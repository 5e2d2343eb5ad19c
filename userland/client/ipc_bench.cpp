#include "llmos/client/ipc_bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <cstdio>
#include <iostream>
#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "llmos/client/client.hpp"
#include "llmos/client/system.hpp"
#include "llmos/host/engine_host.hpp"
#include "llmos/http/local_model.hpp"
#include "llmos/ipc/runtime_dir.hpp"
#include "llmos/ipc/socket.hpp"
#include "llmos/tokenizer/tokenizer.hpp"

namespace llmos::client {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Latency {
  double p50_us = 0, p99_us = 0, mean_us = 0, per_second = 0;
};

Latency summarize(std::vector<double> us) {
  Latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  l.mean_us = sum / double(us.size());
  l.p50_us = us[us.size() / 2];
  l.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  l.per_second = 1e6 / l.mean_us;
  return l;
}

// Sequential pings on a DEALER to `socket_name`: one round trip each.
Result<Latency> ping_latency(const std::filesystem::path& dir, std::string_view socket_name, int n) {
  ipc::Context ctx;
  LLMOS_ASSIGN_OR_RETURN(std::string ep, ipc::ipc_endpoint(dir, socket_name));
  ipc::SocketOptions o;
  o.routing_id = "client:bench-" + std::to_string(::getpid()) + "-" + std::string(socket_name);
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::connect(ctx, ipc::SocketType::kDealer, ep, o));
  std::vector<double> us;
  us.reserve(size_t(n));
  for (int i = 0; i < n + 20; ++i) {
    ipc::OutgoingMessage out(uint64_t(i) + 1);
    out.body().initPing();
    auto t0 = Clock::now();
    LLMOS_RETURN_IF_ERROR(s.send(out.builder()));
    LLMOS_ASSIGN_OR_RETURN(auto m, s.receive(std::chrono::milliseconds(5000)));
    if (i >= 20) us.push_back(micros(Clock::now() - t0));  // the first ones warm up
    (void)m;
  }
  return summarize(std::move(us));
}

// Pings with up to `window` in flight: how many messages per second one
// connection moves through the kernel's loop.
Result<double> ping_throughput(const std::filesystem::path& dir, std::string_view socket_name, int n, int window) {
  ipc::Context ctx;
  LLMOS_ASSIGN_OR_RETURN(std::string ep, ipc::ipc_endpoint(dir, socket_name));
  ipc::SocketOptions o;
  o.routing_id = "client:bench-tp-" + std::to_string(::getpid());
  LLMOS_ASSIGN_OR_RETURN(auto s, ipc::Socket::connect(ctx, ipc::SocketType::kDealer, ep, o));
  int sent = 0, received = 0;
  auto t0 = Clock::now();
  while (received < n) {
    while (sent < n && sent - received < window) {
      ipc::OutgoingMessage out(uint64_t(++sent));
      out.body().initPing();
      LLMOS_RETURN_IF_ERROR(s.send(out.builder()));
    }
    LLMOS_ASSIGN_OR_RETURN(auto m, s.receive(std::chrono::milliseconds(5000)));
    (void)m;
    ++received;
  }
  return double(n) / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

Result<DecodeRate> service_decode(const std::filesystem::path& dir, const std::string& model,
                                  const std::string& prompt, int tokens) {
  LLMOS_ASSIGN_OR_RETURN(auto io, IoClient::connect(dir));
  GenerateOptions g;
  g.model = model;
  g.prompt = prompt;
  g.sampling.temperature = 0;
  g.max_tokens = uint32_t(tokens);
  std::vector<Clock::time_point> arrivals;
  std::vector<size_t> counts;
  auto t0 = Clock::now();
  LLMOS_ASSIGN_OR_RETURN(auto r, io.generate(g, [&](std::string_view, std::span<const uint32_t> ids) {
    arrivals.push_back(Clock::now());
    counts.push_back(ids.size());
  }));
  DecodeRate d;
  d.tokens = int(r.ids.size());
  if (arrivals.empty()) return d;
  d.first_token_ms = micros(arrivals.front() - t0) / 1000;
  if (arrivals.size() < 2) return d;
  size_t after_first = 0;
  for (size_t i = 1; i < counts.size(); ++i) after_first += counts[i];
  d.tokens_per_second = double(after_first) / std::chrono::duration<double>(arrivals.back() - arrivals.front()).count();
  return d;
}

namespace {

// Arrival times of one request's tokens, detokenized on the engine thread as
// llmos-io does.
class ArrivalClock final : public host::EngineListener {
 public:
  explicit ArrivalClock(const tokenizer::Tokenizer& tok) : decoder_(tok) { arrivals_.reserve(4096); }
  void on_events(std::span<const engine::TokenEvent> events) override {
    std::lock_guard lock(mu_);
    for (const auto& ev : events) {
      if (ev.token >= 0) {
        text_ += decoder_.push(ev.token);
        arrivals_.push_back(Clock::now());
      }
      done_ = done_ || ev.done;
    }
    cv_.notify_all();
  }
  void on_refused(uint64_t, Status status) override {
    std::lock_guard lock(mu_);
    refusal_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }
  // Waits for the end; the refusal, if the engine refused the request.
  Status wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return refusal_;
  }
  const std::vector<Clock::time_point>& arrivals() const { return arrivals_; }

 private:
  tokenizer::StreamDecoder decoder_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Clock::time_point> arrivals_;
  std::string text_;
  Status refusal_;
  bool done_ = false;
};

}  // namespace

Result<DecodeRate> local_decode(const std::string& path, const std::string& prompt, int tokens, int threads,
                                int ctx) {
  http::LocalModelOptions lo;
  lo.threads = threads;
  lo.max_seqs = 8;  // as the model service runs it
  lo.ctx = ctx;
  LLMOS_ASSIGN_OR_RETURN(auto local, http::open_local_model(path, lo));
  const tokenizer::Tokenizer& tok = local.text->tok;
  engine::GenerationRequest req;
  req.id = 1;
  req.prompt = tok.encode(prompt, tok.add_bos());
  req.sampling.temperature = 0;
  req.max_tokens = tokens;
  if (tok.eos_id() >= 0) req.stop_ids.push_back(tok.eos_id());
  ArrivalClock clock(tok);
  auto t0 = Clock::now();
  {
    host::EngineHost engine_host(std::move(local.engine), clock);
    engine_host.submit(std::move(req));
    LLMOS_RETURN_IF_ERROR(clock.wait());
  }
  const auto& arrivals = clock.arrivals();
  DecodeRate d;
  d.tokens = int(arrivals.size());
  if (arrivals.size() < 2) return d;
  d.first_token_ms = micros(arrivals.front() - t0) / 1000;
  d.tokens_per_second =
      double(arrivals.size() - 1) / std::chrono::duration<double>(arrivals.back() - arrivals.front()).count();
  return d;
}

namespace {

// The first token of an interactive stream that arrives while another stream
// (batch or interactive) holds the model's only sequence slot: the system in
// `dir` runs with --max-seqs 1. Behind batch work, the kernel preempts it;
// behind interactive work, the request waits for it to end.
Result<double> first_token_behind(const std::filesystem::path& dir, const std::string& model, bool behind_batch,
                                  int busy_tokens) {
  std::atomic<int> busy_seen{0};
  Status busy_status = ok_status();
  std::thread busy([&] {
    auto io = IoClient::connect(dir);
    if (!io.ok()) {
      busy_status = io.status();
      busy_seen = -1;
      return;
    }
    GenerateOptions g;
    g.model = model;
    g.prompt = "Once upon a time";
    g.sampling.temperature = 0;
    g.max_tokens = uint32_t(busy_tokens);
    g.priority = behind_batch ? Priority::kBatch : Priority::kInteractive;
    auto r = io->generate(g, [&](std::string_view, std::span<const uint32_t> ids) { busy_seen += int(ids.size()); });
    if (!r.ok()) busy_status = r.status();
  });
  while (busy_seen >= 0 && busy_seen < 16) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto d = busy_seen >= 0 ? service_decode(dir, model, "The little dog", 16) : Result<DecodeRate>(busy_status);
  busy.join();
  LLMOS_RETURN_IF_ERROR(busy_status);
  LLMOS_ASSIGN_OR_RETURN(DecodeRate rate, std::move(d));
  if (rate.tokens == 0) return failed("the interactive request generated nothing");
  return rate.first_token_ms;
}

int fail(const std::string& m) {
  std::fprintf(stderr, "llmos-bench ipc: %s\n", m.c_str());
  return 1;
}

}  // namespace

int run_ipc_bench(int argc, char** argv) {
  std::string model_path, runtime, bin_dir, prompt = "Once upon a time";
  int pings = 5000, tokens = 256, threads = 1, repeats = 3, ctx = 0;
  bool json = false, quick = false;
  po::options_description opts("llmos-bench ipc options");
  opts.add_options()
      ("help,h", "show this help")
      ("model", po::value(&model_path), "GGUF model for the tokens/s comparison (optional)")
      ("runtime-dir", po::value(&runtime), "use the system running there (default: start a temporary one)")
      ("bin-dir", po::value(&bin_dir), "where llmosd is (default: beside this program)")
      ("pings", po::value(&pings)->default_value(5000), "round trips per socket")
      ("tokens", po::value(&tokens)->default_value(256), "tokens per decode run")
      ("threads,t", po::value(&threads)->default_value(1), "CPU threads of the model (both paths)")
      ("ctx", po::value(&ctx)->default_value(0), "context length (0 = the model's)")
      ("repeats", po::value(&repeats)->default_value(3), "decode runs per path (best counts)")
      ("quick", po::bool_switch(&quick), "a few of everything (a smoke test)")
      ("json", po::bool_switch(&json), "one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what());
  }
  if (vm.count("help")) {
    std::cout << "usage: llmos-bench ipc [--model FILE] [options]\n" << opts;
    return 0;
  }
  if (quick) {
    pings = 100;
    tokens = std::min(tokens, 32);
    repeats = 1;
  }

  // The system: the one running in --runtime-dir, or a temporary one (the
  // message path only: `llmos-bench http` measures HTTP).
  auto system = BenchSystem::use_or_start(runtime, bin_dir, {"--http", "off"});
  if (!system.ok()) return fail(system.status().to_string());
  const std::filesystem::path dir = system->dir();

  nlohmann::json out;
  auto kernel_rtt = ping_latency(dir, ipc::kKernelSocket, pings);
  auto io_rtt = ping_latency(dir, ipc::kClientSocket, pings);
  auto kernel_tp = ping_throughput(dir, ipc::kKernelSocket, pings * 4, 64);
  if (!kernel_rtt.ok() || !io_rtt.ok() || !kernel_tp.ok()) {
    return fail((!kernel_rtt.ok() ? kernel_rtt.status() : !io_rtt.ok() ? io_rtt.status() : kernel_tp.status()).to_string());
  }
  auto lat = [](const Latency& l) {
    return nlohmann::json{{"p50_us", l.p50_us}, {"p99_us", l.p99_us}, {"mean_us", l.mean_us},
                          {"round_trips_per_s", l.per_second}};
  };
  out["kernel_round_trip"] = lat(*kernel_rtt);
  out["io_round_trip"] = lat(*io_rtt);
  out["kernel_messages_per_s"] = *kernel_tp * 2;  // each ping is a request and a reply
  if (!json) {
    std::printf("round trip (ping) over ipc://, %d each:\n", pings);
    std::printf("  kernel.sock   p50 %7.1f us  p99 %7.1f us  (%.0f round trips/s)\n", kernel_rtt->p50_us,
                kernel_rtt->p99_us, kernel_rtt->per_second);
    std::printf("  io.sock       p50 %7.1f us  p99 %7.1f us  (%.0f round trips/s)\n", io_rtt->p50_us, io_rtt->p99_us,
                io_rtt->per_second);
    std::printf("messages/s through llmosd, 64 in flight: %.0f\n", *kernel_tp * 2);
  }

  if (!model_path.empty()) {
    auto loaded = system->load_bench_model(model_path, threads, ctx);
    if (!loaded.ok()) return fail("load: " + loaded.status().to_string());
    DecodeRate best_service, best_local;
    for (int i = 0; i < repeats; ++i) {
      auto s = service_decode(dir, "bench", prompt, tokens);
      auto l = local_decode(model_path, prompt, tokens, threads, int(loaded->ctx));
      if (!s.ok() || !l.ok()) {
        return fail((!s.ok() ? s.status() : l.status()).to_string());
      }
      if (s->tokens_per_second > best_service.tokens_per_second) best_service = *s;
      if (l->tokens_per_second > best_local.tokens_per_second) best_local = *l;
    }
    if (auto k = KernelClient::connect(dir); k.ok()) (void)k->unload("bench");
    const double overhead = best_local.tokens_per_second > 0
                                ? 100.0 * (1.0 - best_service.tokens_per_second / best_local.tokens_per_second)
                                : 0;
    out["decode"] = {{"model", model_path},
                     {"tokens", tokens},
                     {"threads", threads},
                     {"service_tokens_per_s", best_service.tokens_per_second},
                     {"local_tokens_per_s", best_local.tokens_per_second},
                     {"service_first_token_ms", best_service.first_token_ms},
                     {"local_first_token_ms", best_local.first_token_ms},
                     {"overhead_percent", overhead}};
    if (!json) {
      std::printf("decode, one greedy stream of %d tokens, %d thread(s), best of %d:\n", tokens, threads, repeats);
      std::printf("  through the services  %9.1f tokens/s  (first token after %.2f ms)\n",
                  best_service.tokens_per_second, best_service.first_token_ms);
      std::printf("  in-process (--local)  %9.1f tokens/s  (first token after %.2f ms)\n", best_local.tokens_per_second,
                  best_local.first_token_ms);
      std::printf("  service path costs %.1f%% of single-stream decode throughput\n", overhead);
    }
  }
  if (!model_path.empty() && runtime.empty()) {
    // Priority preemption, on a system of its own with one sequence slot.
    auto one = BenchSystem::use_or_start("", bin_dir, {"--http", "off", "--max-seqs", "1"});
    if (!one.ok()) return fail(one.status().to_string());
    auto loaded = one->load_bench_model(model_path, threads, ctx);
    if (!loaded.ok()) return fail("load: " + loaded.status().to_string());
    const int busy = std::min<int>(int(loaded->ctx) - 8, std::max(tokens, 32) * 2);
    double behind_batch = 1e300, behind_interactive = 1e300;
    for (int i = 0; i < repeats; ++i) {
      auto b = first_token_behind(one->dir(), "bench", true, busy);
      auto n = first_token_behind(one->dir(), "bench", false, busy);
      if (!b.ok() || !n.ok()) return fail((!b.ok() ? b.status() : n.status()).to_string());
      behind_batch = std::min(behind_batch, *b);
      behind_interactive = std::min(behind_interactive, *n);
    }
    out["priority"] = {{"busy_tokens", busy},
                       {"first_token_ms_behind_batch", behind_batch},
                       {"first_token_ms_behind_interactive", behind_interactive}};
    if (!json) {
      std::printf("an interactive request while another stream (%d tokens) holds the only slot, best of %d:\n", busy,
                  repeats);
      std::printf("  behind a batch stream (preempted)        first token after %8.2f ms\n", behind_batch);
      std::printf("  behind an interactive stream (waits)     first token after %8.2f ms\n", behind_interactive);
    }
  }
  if (json) std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace llmos::client
