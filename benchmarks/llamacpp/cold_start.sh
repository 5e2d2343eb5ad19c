#!/usr/bin/env bash
# llama.cpp's load-to-first-token on this machine, beside `llmos-bench cold`
# (docs/performance.md): each run is a fresh node process.
#   benchmarks/llamacpp/cold_start.sh MODEL.gguf [THREADS] [REPEAT] [--drop-caches]
# With the file in the page cache (read through first); with --drop-caches (as
# root) after `sync; echo 3 > /proc/sys/vm/drop_caches` instead. Installs
# node-llama-cpp as compare.sh does, into $LLMOS_NPM_CACHE (default
# build/llamacpp-npm). Prints one JSON line per run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LLMOS_NPM_CACHE:-$here/../../build/llamacpp-npm}
version=3.22.1
usage="usage: $0 MODEL.gguf [THREADS] [REPEAT] [--drop-caches]"
drop=""
args=()
for a in "$@"; do
  if [ "$a" == "--drop-caches" ]; then drop=1; else args+=("$a"); fi
done
[ ${#args[@]} -ge 1 ] || { echo "$usage" >&2; exit 2; }
model=$(realpath "${args[0]}")
threads=${args[1]:-$(nproc)}
repeat=${args[2]:-3}
command -v node >/dev/null && command -v npm >/dev/null || { echo "$0: node and npm are needed" >&2; exit 1; }
if [ -n "$drop" ] && [ "$(id -u)" != 0 ]; then echo "$0: --drop-caches needs root" >&2; exit 1; fi
if [ ! -f "$cache/node_modules/node-llama-cpp/package.json" ]; then
  mkdir -p "$cache"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$cache" "node-llama-cpp@$version" >&2
fi
cp "$here/first_token.mjs" "$cache/first_token.mjs"  # resolves the package from the cache's node_modules
for ((i = 0; i < repeat; i++)); do
  if [ -n "$drop" ]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
  else
    cat "$model" >/dev/null
  fi
  node "$cache/first_token.mjs" "$model" "$threads"
done
