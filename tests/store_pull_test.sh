#!/usr/bin/env bash
# The model store and `llmos pull` as a user runs them (see tests/store.cmake):
#   store_pull_test.sh LLMOS_BIN MKMODEL_BIN [NPM_DIR]
# Writes a tiny model with llmos-mkmodel, imports, copies, lists, shows and
# removes it, then pulls it from a local HTTP server this test starts
# (tests/model_file_server.py): plain, through a redirect, from an hf: source
# with the server's SHA-256, resumed after a cut connection, from a server
# that ignores Range; and checks that a file that is not GGUF, a SHA-256
# mismatch and a 404 leave nothing in the store and say why. Then Ollama's
# store endpoints of a running system, /api/pull included, with curl and the
# official `ollama` npm client (pulls streamed and not, refused pulls), and
# a pull refused while another process pulls the same URL.
# Exit 0 pass, 1 fail, 77 skipped (no python3).
set -uo pipefail
LLMOS=${1:?usage: store_pull_test.sh LLMOS_BIN MKMODEL_BIN}
MKMODEL=${2:?}
NPM_DIR=${3:-}
[ -n "$NPM_DIR" ] && NPM_DIR=$(realpath -m "$NPM_DIR")
command -v python3 >/dev/null || { echo "SKIPPED: python3 is not installed"; exit 77; }

# shellcheck source=tests/check_lib.sh
source "$(dirname "$0")/check_lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/llmos-store-test.XXXXXX")
SERVER_PID=""
SYSTEM_UP=""
cleanup() {
  [ -n "$SYSTEM_UP" ] && "$LLMOS" down >/dev/null 2>&1
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
export LLMOS_MODELS="$TMP/store"
export LLMOS_RUNTIME_DIR="$TMP/rt"
export LLMOS_WATCH_PID=$$  # a system started here ends with this script, even if it is killed
unset XDG_DATA_HOME

mkdir -p "$TMP/www"
"$MKMODEL" --out "$TMP/www/tiny.gguf" --preset tiny >/dev/null || { fail "llmos-mkmodel"; exit 1; }
SHA=$(sha256sum "$TMP/www/tiny.gguf" | cut -d' ' -f1)
SIZE=$(stat -c %s "$TMP/www/tiny.gguf")
head -c 100000 /dev/urandom >"$TMP/www/junk.gguf"
store_files() { find "$LLMOS_MODELS/blobs" "$LLMOS_MODELS/manifests" -type f | sort | tr '\n' ' '; }
tmp_files() { find "$LLMOS_MODELS/tmp" -type f | wc -l; }

# --- the store ------------------------------------------------------------
out=$("$LLMOS" import "$TMP/www/tiny.gguf" 2>&1); expect_has "import" "$out" "as 'tiny:latest'"
"$LLMOS" cp tiny tiny:copy >/dev/null || fail "cp"
expect_eq "list names" "$("$LLMOS" list --json | python3 -c 'import json,sys; print(" ".join(m["name"]+":"+m["tag"] for m in json.load(sys.stdin)))')" "tiny:copy tiny:latest"
expect_eq "show sha256" "$("$LLMOS" show tiny:copy --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')" "$SHA"
expect_eq "one blob for two names" "$(ls "$LLMOS_MODELS/blobs" | wc -l)" "1"
out=$("$LLMOS" show 'bad/name' 2>&1); expect_eq "bad name exit" "$?" "2"
expect_has "bad name message" "$out" "model name 'bad/name': '/' is not allowed"
out=$("$LLMOS" import "$TMP/www/junk.gguf" --name junk 2>&1); expect_eq "import junk exit" "$?" "1"
expect_has "import junk names the file" "$out" "$TMP/www/junk.gguf"
"$LLMOS" rm tiny:copy >/dev/null && "$LLMOS" rm tiny >/dev/null || fail "rm"
out=$("$LLMOS" rm tiny 2>&1); expect_has "rm of a missing model" "$out" "model 'tiny:latest' is not in the store $LLMOS_MODELS"
expect_eq "empty store" "$(store_files)" ""

# --- pull -----------------------------------------------------------------
python3 "$(dirname "$0")/model_file_server.py" "$TMP/www" "$TMP/port" &
SERVER_PID=$!
for _ in $(seq 100); do [ -f "$TMP/port" ] && break; sleep 0.1; done
[ -f "$TMP/port" ] || { fail "the test server did not start"; exit 1; }
BASE="http://127.0.0.1:$(cat "$TMP/port")"

out=$("$LLMOS" pull "$BASE/files/tiny.gguf" 2>&1); expect_eq "pull exit" "$?" "0"
expect_has "pull names the model" "$out" "pulled 'tiny:latest'"
expect_has "pull says unchecked without a sha256" "$out" "not checked"
expect_eq "pulled sha256" "$("$LLMOS" show tiny --json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["sha256"], m["size"], m["source"])')" "$SHA $SIZE $BASE/files/tiny.gguf"
out=$("$LLMOS" pull "$BASE/redirect/tiny.gguf" --name viaredirect:v1 --sha256 "$SHA" 2>&1)
expect_has "pull through a redirect, sha256 given" "$out" "pulled 'viaredirect:v1'"
expect_has "verified" "$out" "verified"
out=$(LLMOS_HF_ENDPOINT="$BASE/hf" "$LLMOS" pull hf:org/repo/tiny.gguf --name fromhf 2>&1)
expect_has "hf: source, server's sha256" "$out" "pulled 'fromhf:latest'"
expect_has "hf: verified" "$out" "verified"
expect_eq "hf: source recorded" "$("$LLMOS" show fromhf --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["source"])')" "hf:org/repo/tiny.gguf"

out=$("$LLMOS" pull "$BASE/cut/tiny.gguf" --name resumed 2>&1); expect_eq "cut pull fails" "$?" "1"
expect_has "cut pull says resume" "$out" "pull again to resume"
expect_eq "cut pull keeps its partial" "$(tmp_files)" "1"
expect_eq "cut pull stored nothing" "$("$LLMOS" show resumed 2>&1 >/dev/null | grep -c 'not in the store')" "1"
out=$("$LLMOS" pull "$BASE/cut/tiny.gguf" --name resumed --sha256 "$SHA" 2>&1)
expect_has "resumed pull" "$out" "resumed at $((SIZE / 2)) bytes"
expect_has "resumed pull verified" "$out" "verified"
expect_eq "no partial left" "$(tmp_files)" "0"

# Ctrl-C: the pull stops with 130, keeps what arrived, and the next one resumes it.
timeout --preserve-status -s INT 0.5 "$LLMOS" pull "$BASE/slow/tiny.gguf" --name slow >"$TMP/int.out" 2>&1
expect_eq "interrupted pull exit" "$?" "130"
expect_has "interrupted pull says so" "$(cat "$TMP/int.out")" "cancelled (pull again to resume)"
expect_eq "interrupted pull stored nothing" "$("$LLMOS" show slow 2>&1 >/dev/null | grep -c 'not in the store')" "1"
expect_eq "interrupted pull keeps its partial" "$(tmp_files)" "1"
out=$("$LLMOS" pull "$BASE/slow/tiny.gguf" --name slow --sha256 "$SHA" 2>&1)
expect_has "interrupted pull resumes" "$out" "resumed at"
expect_has "resumed after Ctrl-C verified" "$out" "verified"

# A server that ignores Range: the pull starts over (here from a partial file
# of junk) and still gets the file right.
NORANGE="$BASE/norange/tiny.gguf"
PARTIAL="$LLMOS_MODELS/tmp/pull-$(printf %s "$NORANGE" | sha256sum | cut -c1-16).partial"
head -c 1000 /dev/urandom >"$PARTIAL"
out=$("$LLMOS" pull "$NORANGE" --name norange --sha256 "$SHA" 2>&1)
expect_has "pull from a server that ignores Range" "$out" "pulled 'norange:latest'"
expect_eq "its partial is gone" "$(tmp_files)" "0"

before=$(store_files)
out=$("$LLMOS" pull "$BASE/files/junk.gguf" 2>&1); expect_eq "not-GGUF exit" "$?" "1"
expect_has "not-GGUF says why" "$out" "$BASE/files/junk.gguf"
out=$("$LLMOS" pull "$BASE/files/tiny.gguf" --name badsum --sha256 "$(printf '1%.0s' $(seq 64))" 2>&1)
expect_has "sha256 mismatch" "$out" "sha256 mismatch"
out=$("$LLMOS" pull "$BASE/files/tiny.gguf?etag=bad" --name badetag 2>&1)
expect_has "server sha256 mismatch" "$out" "expected $(printf '0%.0s' $(seq 64)) (from the server)"
out=$("$LLMOS" pull "$BASE/files/absent.gguf" 2>&1)
expect_has "404" "$out" "HTTP 404"
expect_eq "failed pulls stored nothing" "$(store_files)" "$before"
expect_eq "failed pulls left no file in tmp/" "$(tmp_files)" "0"

# HTTPS: a server with a certificate for 127.0.0.1 from a CA of the test's own,
# trusted through SSL_CERT_FILE (OpenSSL's way to replace the system's CA store);
# without it the certificate is refused.
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 || fail "openssl req"
  python3 "$(dirname "$0")/model_file_server.py" "$TMP/www" "$TMP/tls-port" "$TMP/cert.pem" "$TMP/key.pem" &
  TLS_PID=$!
  for _ in $(seq 100); do [ -f "$TMP/tls-port" ] && break; sleep 0.1; done
  TLS="https://127.0.0.1:$(cat "$TMP/tls-port")"
  out=$("$LLMOS" pull "$TLS/files/tiny.gguf" --name untrusted 2>&1)
  expect_has "https with an unknown CA is refused" "$out" "certificate verify failed"
  out=$(SSL_CERT_FILE="$TMP/cert.pem" "$LLMOS" pull "$TLS/redirect/tiny.gguf" --name overtls --sha256 "$SHA" 2>&1)
  expect_has "https pull" "$out" "pulled 'overtls:latest'"
  kill "$TLS_PID" 2>/dev/null
else
  echo "SKIPPED part: openssl is not installed (no HTTPS check)"
fi

# A running system loads a stored model by its name, tag included, and its
# HTTP server answers Ollama's store endpoints (curl, and the official
# `ollama` npm client when node and npm can install it into NPM_DIR).
if "$LLMOS" up --budget 256M --http 127.0.0.1:0 >"$TMP/up.out" 2>&1; then
  SYSTEM_UP=1
  BASE_HTTP=$(sed -n 's|^HTTP API: \(http://[^/ ]*\)/v1.*|\1|p' "$TMP/up.out")
  expect_eq "GET / as Ollama answers it" "$(curl -s "$BASE_HTTP/")" "Ollama is running"
  expect_eq "HEAD /" "$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE_HTTP/")" "200"
  # /api/pull with curl: a pull that is refused leaves the store as it was.
  before=$(store_files)
  out=$(curl -s -X POST "$BASE_HTTP/api/pull" -d "{\"model\":\"$BASE/files/junk.gguf\",\"stream\":false}")
  expect_has "/api/pull of a file that is not GGUF" "$out" "\"error\":\"$BASE/files/junk.gguf"
  out=$(curl -s -w ' %{http_code}' -X POST "$BASE_HTTP/api/pull" -d "{\"model\":\"$BASE/files/absent.gguf\"}")
  expect_has "/api/pull of a 404" "$out" "HTTP 404"
  expect_has "/api/pull of a 404: 502" "$out" "} 502"
  out=$(curl -s -w ' %{http_code}' -X POST "$BASE_HTTP/api/pull" -d '{"model":"x","username":"u"}')
  expect_has "/api/pull refuses an unknown field" "$out" "unknown field 'username'"
  expect_eq "refused /api/pull stored nothing" "$(store_files)" "$before"
  expect_eq "refused /api/pull left no file in tmp/" "$(tmp_files)" "0"
  # One pull of a URL into a store at a time, across processes: while `llmos
  # pull` holds it, /api/pull of the same URL is refused (409) naming the holder.
  "$LLMOS" pull "$BASE/slow/tiny.gguf" --name locked >"$TMP/locked.out" 2>&1 &
  LOCKED_PID=$!
  for _ in $(seq 200); do compgen -G "$LLMOS_MODELS/tmp/*.partial.lock" >/dev/null && break; sleep 0.02; done
  out=$(curl -s -w ' %{http_code}' -X POST "$BASE_HTTP/api/pull" -d "{\"model\":\"$BASE/slow/tiny.gguf\",\"stream\":false}")
  expect_has "/api/pull of a URL that llmos pull is pulling: 409" "$out" "} 409"
  expect_has "the refusal names the holder" "$out" "is already being pulled into this store by pid $LOCKED_PID (llmos)"
  wait "$LOCKED_PID"; expect_eq "the pull holding the lock went on" "$?" "0"
  expect_has "and stored the model" "$(cat "$TMP/locked.out")" "pulled 'locked:latest'"
  expect_eq "no lock or partial left in tmp/" "$(tmp_files)" "0"
  expect_eq "/api/tags lists the store" "$(curl -s "$BASE_HTTP/api/tags" | python3 -c 'import json,sys; print(" ".join(m["name"] for m in json.load(sys.stdin)["models"]))')" \
    "$("$LLMOS" list --json | python3 -c 'import json,sys; print(" ".join(m["name"]+":"+m["tag"] for m in json.load(sys.stdin)))')"
  if [ -n "$NPM_DIR" ] && command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -f "$NPM_DIR/node_modules/ollama/package.json" ]; then
      mkdir -p "$NPM_DIR"
      npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$NPM_DIR" ollama >"$TMP/npm.log" 2>&1 ||
        rm -rf "$NPM_DIR/node_modules/ollama"
    fi
    if [ -f "$NPM_DIR/node_modules/ollama/package.json" ]; then
      mkdir -p "$TMP/one"
      ONE_STORE="$TMP/one/store"
      LLMOS_MODELS="$ONE_STORE" "$LLMOS" import "$TMP/www/tiny.gguf" --name solo:q >/dev/null
      "$LLMOS" down >/dev/null 2>&1
      # Its HTTP server pulls hf: sources from the test's file server.
      LLMOS_MODELS="$ONE_STORE" LLMOS_HF_ENDPOINT="$BASE/hf" "$LLMOS" up --budget 256M --http 127.0.0.1:0 \
        >"$TMP/up2.out" 2>&1 || fail "llmos up with one model"
      BASE_ONE=$(sed -n 's|^HTTP API: \(http://[^/ ]*\)/v1.*|\1|p' "$TMP/up2.out")
      cp "$TMP/www/tiny.gguf" "$TMP/www/other.gguf"
      FILES="$BASE" OLLAMA_MODULE="$NPM_DIR/node_modules/ollama" BASE="$BASE_ONE" MODEL=solo:q SHA="$SHA" \
        node "$(dirname "$0")/ollama_store_check.cjs" >"$TMP/ollama.out" 2>&1 || fail "the ollama npm client checks"
      cat "$TMP/ollama.out"
      expect_eq "the client's pulls left no file in tmp/" "$(find "$ONE_STORE/tmp" -type f | wc -l)" "0"
      # Generation with the client: greedy text equal to `llmos generate`'s.
      out=$(LLMOS_MODELS="$ONE_STORE" "$LLMOS" load solo:q 2>&1) || fail "load solo:q: $out"
      WANT=$("$LLMOS" generate solo:q "Once upon a time" --max-tokens 8 --temperature 0 --json |
        python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["text"])')
      [ -n "$WANT" ] || fail "llmos generate solo:q gave no text"
      OLLAMA_MODULE="$NPM_DIR/node_modules/ollama" BASE="$BASE_ONE" MODEL=solo:q PROMPT="Once upon a time" N=8 \
        WANT="$WANT" node "$(dirname "$0")/ollama_generate_check.cjs" >"$TMP/ollama_gen.out" 2>&1 ||
        fail "the ollama npm client generation checks"
      cat "$TMP/ollama_gen.out"
      "$LLMOS" down >/dev/null 2>&1
      "$LLMOS" up --budget 256M --http off >/dev/null 2>&1 || fail "llmos up again"
    else
      echo "SKIPPED part: npm could not install the ollama package"
    fi
  else
    echo "SKIPPED part: no NPM_DIR, node or npm (the ollama npm client checks)"
  fi
  out=$("$LLMOS" load viaredirect:v1 2>&1); expect_has "load a stored model by name:tag" "$out" "loaded 'viaredirect:v1'"
  expect_eq "ps names it" "$("$LLMOS" ps --json | python3 -c 'import json,sys; print(" ".join(m["name"]+"="+m["state"] for m in json.load(sys.stdin)["models"]))')" "viaredirect:v1=ready"
  "$LLMOS" generate viaredirect:v1 "Once upon a time" --max-tokens 4 --temperature 0 >/dev/null 2>&1
  expect_eq "generate with it" "$?" "0"
  # llmos run: pulls a source not yet stored, loads it, answers.
  out=$(LLMOS_HF_ENDPOINT="$BASE/hf" "$LLMOS" run hf:org/repo/tiny.gguf "Once upon a time" 2>&1); rc=$?
  expect_eq "llmos run hf: exit" "$rc" "0"
  expect_has "llmos run pulls" "$out" "pulled 'tiny:latest'"
  expect_has "llmos run loads" "$out" "loaded 'tiny:latest'"
  out=$("$LLMOS" run viaredirect:v1 "Once upon a time" 2>&1); rc=$?
  expect_eq "llmos run of a loaded model: exit" "$rc" "0"
  case "$out" in *loaded*) fail "llmos run loaded a model that was loaded" ;; *) pass "llmos run uses the loaded model" ;; esac
  out=$("$LLMOS" run nosuch "x" 2>&1); expect_has "llmos run of a model not in the store" "$out" "model 'nosuch:latest' is not in the store"
  out=$("$LLMOS" load nosuch 2>&1); expect_has "load of neither file nor stored model" "$out" "nosuch: no such file, and model 'nosuch:latest' is not in the store"
  "$LLMOS" down >/dev/null 2>&1; SYSTEM_UP=""
else
  fail "llmos up: $(cat "$TMP/up.out")"
fi

if [ "$FAILURES" -gt 0 ]; then echo "$FAILURES check(s) failed"; exit 1; fi
echo "all checks passed"
