#!/usr/bin/env bash
# Load on demand, keep-alive and eviction as a user meets them (see
# tests/residency.cmake):
#   residency_test.sh LLMOS_BIN MKMODEL_BIN
# A fresh store holds three names of a tiny model llmos-mkmodel writes, and a
# 110M model for a request that runs a while. With a budget that fits two of
# the tiny ones, a third load evicts the least recently used idle one; a
# request over HTTP for a stored model that is not loaded loads it (concurrent
# requests share one load) and an unknown name is a 404 naming it; Ollama's
# keep_alive 0 unloads the model after its request, and alone unloads it; the
# kernel's --keep-alive unloads an idle model. With a budget that fits the big
# model and one tiny one, a model busy with a request is never evicted, and
# when nothing can be evicted the refusal names what holds the memory. A
# request for a model that is being unloaded waits for the unload and loads
# it again.
# Exit 0 pass, 1 fail, 77 skipped (no python3 or curl).
set -uo pipefail
LLMOS=${1:?usage: residency_test.sh LLMOS_BIN MKMODEL_BIN}
MKMODEL=${2:?}
command -v python3 >/dev/null || { echo "SKIPPED: python3 is not installed"; exit 77; }
command -v curl >/dev/null || { echo "SKIPPED: curl is not installed"; exit 77; }

# shellcheck source=tests/check_lib.sh
source "$(dirname "$0")/check_lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/llmos-residency-test.XXXXXX")
SYSTEM_UP=""
BG_PID=""
cleanup() {
  [ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null
  [ -n "$SYSTEM_UP" ] && "$LLMOS" down >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
export LLMOS_MODELS="$TMP/store"
export LLMOS_RUNTIME_DIR="$TMP/rt"
export LLMOS_WATCH_PID=$$  # a system started here ends with this script, even if it is killed
unset XDG_DATA_HOME

"$MKMODEL" --out "$TMP/tiny.gguf" --preset tiny >/dev/null || { fail "llmos-mkmodel tiny"; exit 1; }
"$MKMODEL" --out "$TMP/big.gguf" --preset 110m --type q8_0 >/dev/null || { fail "llmos-mkmodel 110m"; exit 1; }
for n in t1 t2 t3; do "$LLMOS" import "$TMP/tiny.gguf" --name "$n" >/dev/null || fail "import $n"; done
for n in big big2; do "$LLMOS" import "$TMP/big.gguf" --name "$n" >/dev/null || fail "import $n"; done

# "name=state name=state" of the models `llmos ps` lists, by name.
states() { "$LLMOS" ps --json | python3 -c 'import json,sys; print(" ".join(m["name"]+"="+m["state"] for m in sorted(json.load(sys.stdin)["models"], key=lambda m: m["name"])))'; }
memory_of() { "$LLMOS" ps --json | python3 -c 'import json,sys; print([m["memory_bytes"] for m in json.load(sys.stdin)["models"] if m["name"]==sys.argv[1]][0])' "$1"; }
# Waits up to $2 seconds for `states` to be $1.
wait_states() {
  local want=$1 i
  for ((i = 0; i < $2 * 10; i++)); do [ "$(states)" == "$want" ] && return 0; sleep 0.1; done
  return 1
}
up() {
  "$LLMOS" down >/dev/null 2>&1
  "$LLMOS" up --http 127.0.0.1:0 "$@" >"$TMP/up.out" 2>&1 || { fail "llmos up $*: $(cat "$TMP/up.out")"; return 1; }
  SYSTEM_UP=1
  BASE=$(sed -n 's|^HTTP API: \(http://[^/ ]*\)/v1.*|\1|p' "$TMP/up.out")
}
# POST $2 (JSON) to $1; prints the status code, then the body.
post() { curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" "$BASE$1"; echo; cat "$TMP/body"; }
on_demand_loads() { grep -c "loading model '$1' on demand" "$LLMOS_RUNTIME_DIR/llmosd.log"; }

# ---- sizes, with room for everything
up --budget 8G || exit 1
"$LLMOS" load t1:latest >/dev/null && "$LLMOS" load big:latest --threads 1 >/dev/null || fail "first loads"
TINY=$(memory_of t1:latest)
BIG=$(memory_of big:latest)
echo "tiny model: $TINY bytes, big model: $BIG bytes"

# ---- a budget for two tiny models
up --budget $((TINY * 5 / 2)) || exit 1
out=$("$LLMOS" ps 2>&1); expect_has "ps has the residency columns" "$out" "UNLOADS"
# Without a tag, `llmos load` names the model NAME:latest, as on-demand loads do.
out=$("$LLMOS" load t1 2>&1) || fail "load t1: $out"
expect_has "llmos load of a stored name without a tag" "$out" "loaded 't1:latest'"
"$LLMOS" load t2:latest >/dev/null || fail "load t2"
"$LLMOS" generate t1:latest "Once" --max-tokens 2 >/dev/null || fail "generate with t1"
# t2 is now the least recently used: a request for t3 over HTTP loads t3 on demand, evicting t2.
res=$(post /v1/completions '{"model":"t3","prompt":"Once upon a time","max_tokens":3}')
expect_eq "a completion for a stored model that is not loaded" "$(head -1 <<<"$res")" "200"
expect_eq "the third load evicted the least recently used idle model" "$(states)" "t1:latest=ready t3:latest=ready"
grep -q "model 't2:latest': evicted to make room for 't3:latest'" "$LLMOS_RUNTIME_DIR/llmosd.log" && pass "the log says why t2 went" ||
  fail "no eviction line for t2 in llmosd.log"
res=$(post /api/generate '{"model":"nosuch","prompt":"x","stream":false}')
expect_eq "an unknown model is 404" "$(head -1 <<<"$res")" "404"
expect_has "the 404 names it" "$res" "nosuch:latest"
# Concurrent requests for a model that is not loaded wait for one load.
for i in 1 2 3 4; do
  curl -s -o "$TMP/c$i" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"model":"t2","prompt":"Once upon a time","stream":false,"options":{"num_predict":3}}' "$BASE/api/generate" >"$TMP/s$i" &
done
wait
expect_eq "four concurrent requests for t2" "$(cat "$TMP/s1" "$TMP/s2" "$TMP/s3" "$TMP/s4")" "200200200200"
expect_eq "they shared one load" "$(on_demand_loads t2:latest)" "1"
# Ollama's keep_alive 0: the model goes once the request is done.
res=$(post /api/generate '{"model":"t2","prompt":"Once","stream":false,"keep_alive":0,"options":{"num_predict":2}}')
expect_eq "generate with keep_alive 0" "$(head -1 <<<"$res")" "200"
wait_states "t3:latest=ready" 10 && pass "keep_alive 0 unloaded t2 after its request" || fail "keep_alive 0: $(states)"
# A request's keep_alive: t1 goes 2 s after its request, t3 (-1) stays.
res=$(post /api/generate '{"model":"t1","prompt":"Once","stream":false,"keep_alive":"2s","options":{"num_predict":2}}')
expect_eq "generate with keep_alive 2s" "$(head -1 <<<"$res")" "200"
res=$(post /api/generate '{"model":"t3","keep_alive":-1}')
expect_has "an empty prompt loads (keep_alive -1)" "$res" '"done_reason":"load"'
wait_states "t3:latest=ready" 10 && pass "keep_alive 2s unloaded idle t1, keep_alive -1 kept t3" ||
  fail "keep_alive 2s / -1: $(states)"
res=$(curl -s "$BASE/api/ps")
expect_has "/api/ps has expires_at" "$res" '"expires_at":"2318-'
res=$(post /api/chat '{"model":"t3","messages":[],"keep_alive":"0"}')
expect_has "an empty chat with keep_alive 0 unloads" "$res" '"done_reason":"unload"'
wait_states "" 5 && pass "t3 is gone" || fail "t3 after keep_alive 0 alone: $(states)"
# The client socket's keep_alive, as Ollama's: 0 unloads the model after its request.
out=$("$LLMOS" generate t1 "Once" --max-tokens 2 --keep-alive 0 2>&1) || fail "llmos generate --keep-alive 0: $out"
wait_states "" 10 && pass "llmos generate --keep-alive 0 unloaded the model after its request" ||
  fail "llmos generate --keep-alive 0: $(states)"
out=$(curl -s "$BASE/metrics"); expect_has "/metrics has the expiry gauge" "$out" "llmos_model_expires_seconds"

# ---- the kernel's --keep-alive
up --budget 8G --keep-alive 1s || exit 1
"$LLMOS" load t1:latest >/dev/null || fail "load t1"
wait_states "" 10 && pass "--keep-alive 1s unloaded the idle model" || fail "--keep-alive 1s: $(states)"
# The client socket (llmos generate) loads a stored model on demand too.
before=$(on_demand_loads t2:latest)
out=$("$LLMOS" generate t2 "Once upon a time" --max-tokens 2 2>&1) || fail "llmos generate of a stored model that is not loaded: $out"
expect_eq "llmos generate loaded it on demand" "$(on_demand_loads t2:latest)" "$((before + 1))"
out=$("$LLMOS" generate nosuch "x" 2>&1); expect_has "llmos generate of an unknown model names it" "$out" "nosuch:latest"

# ---- a budget for the big model and one tiny one; the big one busy
up --budget $((BIG + TINY * 3 / 2)) || exit 1
"$LLMOS" load big:latest --threads 1 >/dev/null || fail "load big"
"$LLMOS" generate big:latest "Once upon a time" --max-tokens 100000 --temperature 1 >/dev/null 2>&1 &
BG_PID=$!
for ((i = 0; i < 100; i++)); do
  [ "$("$LLMOS" ps --json | python3 -c 'import json,sys; print(sum(m["active"]+m["queued"] for m in json.load(sys.stdin)["models"]))')" != "0" ] && break
  sleep 0.1
done
"$LLMOS" load t1:latest >/dev/null || fail "load t1 beside the busy big model"
out=$("$LLMOS" load t2:latest 2>&1) || fail "load t2: $out"
expect_eq "t2 evicted idle t1, never the busy big model" "$(states)" "big:latest=ready t2:latest=ready"
out=$("$LLMOS" load big2:latest 2>&1)
expect_has "a load nothing can make room for is refused" "$out" "big2:latest"
expect_has "the refusal names what holds the memory" "$out" "'big:latest'"
expect_has "and why" "$out" "request(s) in flight"
expect_eq "nothing was evicted for it" "$(states)" "big:latest=ready t2:latest=ready"
kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; BG_PID=""

# ---- a request for a model that is being unloaded waits for the unload and loads it again
up --budget 8G || exit 1
"$LLMOS" load big:latest --threads 1 >/dev/null || fail "load big for the unload test"
# A streamed request that runs until its client goes away holds the unload in its drain.
curl -s -N -o /dev/null -H 'Content-Type: application/json' \
  -d '{"model":"big:latest","prompt":"Once upon a time","options":{"num_predict":100000,"temperature":1}}' \
  "$BASE/api/generate" &
BG_PID=$!
for ((i = 0; i < 100; i++)); do
  [ "$("$LLMOS" ps --json | python3 -c 'import json,sys; print(sum(m["active"]+m["queued"] for m in json.load(sys.stdin)["models"]))')" != "0" ] && break
  sleep 0.1
done
"$LLMOS" unload big:latest >"$TMP/unload.out" 2>&1 &
UNLOAD_PID=$!
wait_states "big:latest=draining" 10 && pass "the unload drains the busy model" || fail "draining: $(states)"
# At once: llmos-io, which learns of the drain from the kernel's push, may still
# list the model ready; the request asks the kernel for it all the same.
curl -s -o "$TMP/late" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"model":"big","prompt":"Once upon a time","stream":false,"options":{"num_predict":3}}' \
  "$BASE/api/generate" >"$TMP/late.status" &
LATE_PID=$!
for ((i = 0; i < 100; i++)); do
  grep -q "model 'big:latest' is being unloaded; it loads again when it is gone" "$LLMOS_RUNTIME_DIR/llmosd.log" && break
  sleep 0.1
done
grep -q "model 'big:latest' is being unloaded; it loads again" "$LLMOS_RUNTIME_DIR/llmosd.log" &&
  pass "a request for the draining model waits" || fail "no wait for the draining model in llmosd.log"
kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; BG_PID=""  # the drain ends
wait "$UNLOAD_PID" && pass "the unload ended" || fail "llmos unload: $(cat "$TMP/unload.out")"
wait "$LATE_PID"
expect_eq "the request that came while it unloaded succeeded" "$(cat "$TMP/late.status")" "200"
expect_has "it generated" "$(cat "$TMP/late")" '"done":true'
grep -q "loading model 'big:latest' again for 1 request(s) that came while it was unloading" \
  "$LLMOS_RUNTIME_DIR/llmosd.log" && pass "the model loaded again once" || fail "no reload line in llmosd.log"
expect_eq "it is loaded again" "$(states)" "big:latest=ready"

"$LLMOS" down >/dev/null 2>&1; SYSTEM_UP=""
if [ "$FAILURES" -gt 0 ]; then echo "$FAILURES check(s) failed"; exit 1; fi
echo "all residency checks passed"
