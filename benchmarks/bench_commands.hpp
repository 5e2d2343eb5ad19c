// Subcommands of `llmos-bench`. Each takes the arguments after its own name
// (argv[0] = the subcommand) and returns the exit code.
#pragma once

namespace llmos::bench {
int run_engine_bench(int argc, char** argv);  // engine_bench.cpp
int run_http_bench(int argc, char** argv);    // http_bench.cpp
int run_tokenizer_bench(int argc, char** argv);  // tokenizer_bench.cpp
int run_pull_bench(int argc, char** argv);       // store_bench.cpp
int run_load_bench(int argc, char** argv);       // store_bench.cpp
int run_cold_bench(int argc, char** argv);       // cold_bench.cpp
}  // namespace llmos::bench
