// `llmos-bench http`: what the HTTP API costs and what it sustains. Starts a
// temporary system with the HTTP API on a free loopback port (or uses the one
// running in --runtime-dir), loads the model, then measures one greedy
// streamed completion over HTTP against the same stream through the client
// socket and in-process, and N concurrent streaming clients (aggregate
// generated tokens/s, time to first token p50/p99).
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "bench_commands.hpp"
#include "llmos/client/client.hpp"
#include "llmos/client/ipc_bench.hpp"
#include "llmos/client/system.hpp"

namespace llmos::bench {
namespace {

namespace po = boost::program_options;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct StreamTiming {
  bool ok = false;
  std::string error;
  double first_token_ms = 0;
  double tokens_per_second = 0;  // between the first and the last text event
  int events = 0;                // SSE events carrying text (one per token here)
  int completion_tokens = 0;     // from usage
  Clock::time_point start, first, last;
};

// One streamed completion on a fresh connection, timing each SSE event.
StreamTiming stream_completion(const std::string& host, const std::string& port, const json& body) {
  StreamTiming t;
  try {
    net::io_context ioc;
    net::ip::tcp::resolver resolver(ioc);
    net::ip::tcp::socket sock(ioc);
    net::connect(sock, resolver.resolve(host, port));
    sock.set_option(net::ip::tcp::no_delay(true));
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/completions", 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body.dump();
    req.prepare_payload();
    t.start = Clock::now();
    bhttp::write(sock, req);
    boost::beast::flat_buffer buf;
    bhttp::response_parser<bhttp::buffer_body> p;
    p.body_limit(boost::none);
    bhttp::read_header(sock, buf, p);
    if (p.get().result_int() != 200) {
      t.error = "HTTP " + std::to_string(p.get().result_int());
      return t;
    }
    std::string pending;
    char data[16384];
    while (!p.is_done()) {
      p.get().body().data = data;
      p.get().body().size = sizeof data;
      boost::system::error_code ec;
      bhttp::read_some(sock, buf, p, ec);  // returns with what has arrived, so each event is timed
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) throw boost::system::system_error(ec);
      const auto now = Clock::now();
      pending.append(data, sizeof data - p.get().body().size);
      size_t end;
      while ((end = pending.find("\n\n")) != std::string::npos) {
        const std::string event = pending.substr(0, end);
        pending.erase(0, end + 2);
        if (event.rfind("data: {", 0) != 0) continue;
        auto j = json::parse(event.substr(6));
        if (j.contains("error")) {
          t.error = j["error"].value("message", "error");
          return t;
        }
        if (j.contains("usage") && j["usage"].is_object()) t.completion_tokens = j["usage"]["completion_tokens"];
        if (!j["choices"].empty() && !j["choices"][0].value("text", "").empty()) {
          if (t.events++ == 0) t.first = now;
          t.last = now;
        }
      }
    }
  } catch (const std::exception& e) {
    t.error = e.what();
    return t;
  }
  t.ok = t.events > 0;
  if (!t.ok) t.error = "no text arrived";
  t.first_token_ms = std::chrono::duration<double, std::milli>(t.first - t.start).count();
  if (t.events > 1 && t.last > t.first) {
    t.tokens_per_second = double(t.events - 1) / std::chrono::duration<double>(t.last - t.first).count();
  }
  return t;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))];
}

int fail(const std::string& m) {
  std::fprintf(stderr, "llmos-bench http: %s\n", m.c_str());
  return 1;
}

}  // namespace

int run_http_bench(int argc, char** argv) {
  std::string model_path, runtime, bin_dir, prompt = "Once upon a time";
  int tokens = 128, threads = 1, repeats = 3, clients = 8, requests = 2, max_seqs = 8;
  bool json_out = false, quick = false;
  po::options_description opts("llmos-bench http options");
  opts.add_options()
      ("help,h", "show this help")
      ("model", po::value(&model_path)->required(), "GGUF model file")
      ("runtime-dir", po::value(&runtime), "use the system running there, with its HTTP API (default: a temporary one)")
      ("bin-dir", po::value(&bin_dir), "where llmosd is (default: beside this program)")
      ("tokens", po::value(&tokens)->default_value(128), "tokens per completion")
      ("threads,t", po::value(&threads)->default_value(1), "CPU threads of the model")
      ("repeats", po::value(&repeats)->default_value(3), "single-stream runs per path (best counts)")
      ("clients", po::value(&clients)->default_value(8), "concurrent streaming clients")
      ("requests", po::value(&requests)->default_value(2), "completions per client")
      ("max-seqs", po::value(&max_seqs)->default_value(8), "sequences the model runs at once (temporary system)")
      ("quick", po::bool_switch(&quick), "a few of everything (a smoke test)")
      ("json", po::bool_switch(&json_out), "one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << "usage: llmos-bench http --model FILE [options]\n" << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what());
  }
  if (quick) {
    tokens = std::min(tokens, 16);
    repeats = 1;
    clients = std::min(clients, 2);
    requests = 1;
  }

  auto system = client::BenchSystem::use_or_start(
      runtime, bin_dir,
      {"--http", "127.0.0.1:0", "--max-seqs", std::to_string(max_seqs), "--max-queued",
       std::to_string(std::max(256, clients * requests))});
  if (!system.ok()) return fail(system.status().to_string());
  const std::filesystem::path dir = system->dir();
  auto url = client::http_url(dir);
  if (!url) {
    return fail("the system in " + dir.string() + " serves no HTTP API (started with --http off?)");
  }
  const std::string hostport = url->substr(std::string("http://").size());
  const std::string host = hostport.substr(0, hostport.rfind(':'));
  const std::string port = hostport.substr(hostport.rfind(':') + 1);

  auto loaded = system->load_bench_model(model_path, threads);
  if (!loaded.ok()) return fail("load: " + loaded.status().to_string());
  // The API serves the model once llmos-io has seen it ready.
  for (int i = 0; i < 100; ++i) {
    if (stream_completion(host, port, {{"model", "bench"}, {"prompt", "x"}, {"max_tokens", 1}}).ok) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto body = [&](const std::string& p) {
    return json{{"model", "bench"}, {"prompt", p},      {"max_tokens", tokens},
                {"temperature", 0}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  };
  StreamTiming best_http;
  client::DecodeRate best_socket, best_local;
  for (int i = 0; i < repeats; ++i) {
    auto h = stream_completion(host, port, body(prompt));
    auto s = client::service_decode(dir, "bench", prompt, tokens);
    auto l = client::local_decode(model_path, prompt, tokens, threads, int(loaded->ctx));
    if (!h.ok || !s.ok() || !l.ok()) {
      return fail(!h.ok ? "http: " + h.error : (!s.ok() ? s.status() : l.status()).to_string());
    }
    if (h.tokens_per_second > best_http.tokens_per_second) best_http = h;
    if (s->tokens_per_second > best_socket.tokens_per_second) best_socket = *s;
    if (l->tokens_per_second > best_local.tokens_per_second) best_local = *l;
  }

  // Concurrency: every client streams `requests` completions back to back.
  std::vector<std::vector<StreamTiming>> per_client(static_cast<size_t>(clients));
  const auto t0 = Clock::now();
  {
    std::vector<std::thread> threads_;
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([&, c] {
        for (int r = 0; r < requests; ++r) {
          per_client[size_t(c)].push_back(
              stream_completion(host, port, body(prompt + " " + std::to_string(c) + " " + std::to_string(r))));
        }
      });
    }
    for (auto& t : threads_) t.join();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> ttft;
  long generated = 0;
  int failures = 0;
  std::string first_error;
  for (const auto& v : per_client) {
    for (const auto& t : v) {
      if (!t.ok) {
        if (failures++ == 0) first_error = t.error;
        continue;
      }
      ttft.push_back(t.first_token_ms);
      generated += t.completion_tokens;
    }
  }
  if (auto k = client::KernelClient::connect(dir); k.ok()) (void)k->unload("bench");

  json out = {{"model", model_path},
              {"tokens", tokens},
              {"threads", threads},
              {"single_stream",
               {{"http_tokens_per_s", best_http.tokens_per_second},
                {"http_first_token_ms", best_http.first_token_ms},
                {"socket_tokens_per_s", best_socket.tokens_per_second},
                {"socket_first_token_ms", best_socket.first_token_ms},
                {"local_tokens_per_s", best_local.tokens_per_second},
                {"local_first_token_ms", best_local.first_token_ms}}},
              {"concurrent",
               {{"clients", clients},
                {"requests", clients * requests},
                {"failures", failures},
                {"generated_tokens", generated},
                {"wall_s", wall},
                {"tokens_per_s", double(generated) / wall},
                {"first_token_p50_ms", percentile(ttft, 0.5)},
                {"first_token_p99_ms", percentile(ttft, 0.99)}}}};
  if (json_out) {
    std::cout << out.dump() << "\n";
  } else {
    std::printf("one greedy stream of %d tokens, %d thread(s), best of %d:\n", tokens, threads, repeats);
    std::printf("  HTTP (SSE, llmos-io)     %9.1f tokens/s  (first token after %.2f ms)\n",
                best_http.tokens_per_second, best_http.first_token_ms);
    std::printf("  client socket (io.sock)  %9.1f tokens/s  (first token after %.2f ms)\n",
                best_socket.tokens_per_second, best_socket.first_token_ms);
    std::printf("  in-process (--local)     %9.1f tokens/s  (first token after %.2f ms)\n",
                best_local.tokens_per_second, best_local.first_token_ms);
    std::printf("%d concurrent streaming clients x %d completions of %d tokens:\n", clients, requests, tokens);
    std::printf("  %.1f generated tokens/s over %.2f s; first token p50 %.1f ms, p99 %.1f ms; %d failed\n",
                double(generated) / wall, wall, percentile(ttft, 0.5), percentile(ttft, 0.99), failures);
  }
  if (failures > 0) return fail(std::to_string(failures) + " completion(s) failed, the first: " + first_error);
  return 0;
}

}  // namespace llmos::bench
