#!/usr/bin/env bash
# llama.cpp's figures on this machine, beside llmos-bench's (docs/performance.md):
#   benchmarks/llamacpp/compare.sh MODEL.gguf [THREADS] [PROMPT_TOKENS] [GEN_TOKENS]
# Installs node-llama-cpp (a pinned version; prebuilt llama.cpp binaries) into
# $LLMOS_NPM_CACHE (default build/llamacpp-npm) the first time. Needs node and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LLMOS_NPM_CACHE:-$here/../../build/llamacpp-npm}
version=3.22.1
[ $# -ge 1 ] || { echo "usage: $0 MODEL.gguf [THREADS] [PROMPT_TOKENS] [GEN_TOKENS]" >&2; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "$0: node and npm are needed" >&2; exit 1; }
if [ ! -f "$cache/node_modules/node-llama-cpp/package.json" ]; then
  mkdir -p "$cache"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$cache" "node-llama-cpp@$version" >&2
fi
cp "$here/measure.mjs" "$cache/measure.mjs"  # resolves the package from the cache's node_modules
exec node "$cache/measure.mjs" "$(realpath "$1")" "${2:-2}" "${3:-128}" "${4:-64}"
