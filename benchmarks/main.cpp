// `llmos-bench`: benchmarks. Speed and memory are shown here, never by timed tests.
#include <cstdio>
#include <string_view>

#include "bench_commands.hpp"
#include "llmos/client/ipc_bench.hpp"
#include "llmos/driver/cpu_bench.hpp"

int main(int argc, char** argv) {
  const std::string_view cmd = argc > 1 ? argv[1] : "";
  if (cmd == "engine") return llmos::bench::run_engine_bench(argc - 1, argv + 1);
  if (cmd == "kernels") return llmos::cpu::run_kernel_bench(argc - 1, argv + 1);
  if (cmd == "ipc") return llmos::client::run_ipc_bench(argc - 1, argv + 1);
  if (cmd == "http") return llmos::bench::run_http_bench(argc - 1, argv + 1);
  if (cmd == "tokenizer") return llmos::bench::run_tokenizer_bench(argc - 1, argv + 1);
  if (cmd == "pull") return llmos::bench::run_pull_bench(argc - 1, argv + 1);
  if (cmd == "load") return llmos::bench::run_load_bench(argc - 1, argv + 1);
  if (cmd == "cold") return llmos::bench::run_cold_bench(argc - 1, argv + 1);
  std::fputs(
      "usage: llmos-bench <benchmark> [options]\n"
      "  engine --model FILE [--threads N] [--prompt-tokens P] [--gen-tokens G] [--batch B] [--json]\n"
      "      prefill and decode tokens/s against the memory-bandwidth roofline\n"
      "  kernels [--threads N] [--isa scalar|avx2|avx512|avx512-novnni|amx] [--quick] [--cpu-time]\n"
      "      CPU matrix-product kernels per weight type\n"
      "  ipc [--model FILE]\n"
      "      message round trips and messages/s over the real sockets; tokens/s through\n"
      "      the services against the engine in-process\n"
      "  http --model FILE [--clients N] [--tokens T]\n"
      "      one stream over HTTP vs the client socket vs in-process; N concurrent\n"
      "      streaming clients (tokens/s, time to first token)\n"
      "  tokenizer [--model FILE]... [--kib N] [--template NAME]\n"
      "      encode / decode MB/s on ~1 MB of mixed English, code and CJK text\n"
      "  pull [--file FILE | --mib N | --url URL] [--repeat R] [--json]\n"
      "      MB/s of a pull (download, sha256, fsync; GGUF check and store for a .gguf)\n"
      "      from an HTTP server on loopback\n"
      "  load --model FILE|NAME [--repeat R] [--json]\n"
      "      milliseconds from a load request to the model being ready\n"
      "  cold (--model FILE|NAME | --preset NAME [--type T]) [--repeat R] [--drop-caches] [--json]\n"
      "      milliseconds from a request for a stored model that is not loaded to its\n"
      "      first token (file in the page cache; as root, also after dropping it)\n",
      cmd.empty() || cmd == "-h" || cmd == "--help" ? stdout : stderr);
  return cmd.empty() || cmd == "-h" || cmd == "--help" ? 0 : 2;
}
