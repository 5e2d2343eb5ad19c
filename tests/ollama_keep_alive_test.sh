#!/usr/bin/env bash
# Load on demand and keep_alive with the official `ollama` npm client (see
# tests/residency.cmake):
#   ollama_keep_alive_test.sh LLMOS_BIN MKMODEL_BIN NPM_DIR
# Imports a tiny model llmos-mkmodel writes into a fresh store, starts the
# system and runs tests/ollama_keep_alive_check.cjs against it. The npm package
# is installed under NPM_DIR once (the same cache as tests/store_pull_test.sh).
# Exit 0 pass, 1 fail, 77 skipped (no node, npm or the package).
set -uo pipefail
LLMOS=${1:?usage: ollama_keep_alive_test.sh LLMOS_BIN MKMODEL_BIN NPM_DIR}
MKMODEL=${2:?}
NPM_DIR=$(realpath -m "${3:?}")
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIPPED: node or npm is not installed"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/llmos-keepalive-test.XXXXXX")
SYSTEM_UP=""
cleanup() {
  [ -n "$SYSTEM_UP" ] && "$LLMOS" down >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
export LLMOS_MODELS="$TMP/store"
export LLMOS_RUNTIME_DIR="$TMP/rt"
export LLMOS_WATCH_PID=$$
unset XDG_DATA_HOME
if [ ! -f "$NPM_DIR/node_modules/ollama/package.json" ]; then
  mkdir -p "$NPM_DIR"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$NPM_DIR" ollama >"$TMP/npm.log" 2>&1 ||
    rm -rf "$NPM_DIR/node_modules/ollama"
fi
[ -f "$NPM_DIR/node_modules/ollama/package.json" ] || { echo "SKIPPED: npm could not install the ollama package"; exit 77; }
"$MKMODEL" --out "$TMP/tiny.gguf" --preset tiny >/dev/null || { echo "FAIL: llmos-mkmodel"; exit 1; }
"$LLMOS" import "$TMP/tiny.gguf" --name tiny >/dev/null || { echo "FAIL: import"; exit 1; }
"$LLMOS" up --budget 256M --http 127.0.0.1:0 >"$TMP/up.out" 2>&1 || { echo "FAIL: llmos up: $(cat "$TMP/up.out")"; exit 1; }
SYSTEM_UP=1
BASE=$(sed -n 's|^HTTP API: \(http://[^/ ]*\)/v1.*|\1|p' "$TMP/up.out")
OLLAMA_MODULE="$NPM_DIR/node_modules/ollama" BASE="$BASE" MODEL=tiny node "$(dirname "$0")/ollama_keep_alive_check.cjs"
