#!/usr/bin/env bash
# API fuzzing of `reticle serve` with schemathesis, driven by the service's own
# /openapi.json: a real server on loopback (token on, the fixture package by default),
# every documented operation with schema-valid and schema-violating data.
#
#   scripts/serve_fuzz.sh [MAX_EXAMPLES]      (default 300 per operation)
#
# Passes when schemathesis finds no failure — no 5xx, responses as documented (status,
# content type, headers, body schema), invalid data rejected, auth enforced, wrong methods
# 405 — and the server is still healthy afterwards, logged no panic, and exits 0 on SIGTERM.
# `positive_data_acceptance` is off: a schema-valid body holds random base64, which is
# rightly 422, not an image.
#
# Environment: MODEL (package folder), SCHEMATHESIS_VERSION, OUT (report folder).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

MAX_EXAMPLES=${1:-300}
MODEL=${MODEL:-agents/tests/fixtures/micro-ui}
SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
VENV=$RETICLE_CACHE/schemathesis-venv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RETICLE_CACHE/target}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

# schemathesis in its own venv, installed once.
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q -p reticle-agents --bin reticle
BIN=$CARGO_TARGET_DIR/debug/reticle

TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
RETICLE_TOKEN=$TOKEN RUST_LOG=${RUST_LOG:-warn,ort=error} "$BIN" serve --model "$MODEL" \
  --port 0 --provider cpu --workers 1 --queue 64 --timeout-ms 60000 \
  >"$OUT/server.stdout" 2>"$OUT/server.stderr" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  grep -q '^listening on ' "$OUT/server.stdout" 2>/dev/null && break
  kill -0 $PID 2>/dev/null || { cat "$OUT/server.stderr"; echo "server did not start" >&2; exit 1; }
  sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$OUT/server.stdout")
echo "server $URL (pid $PID), report in $OUT"

status=0
# One schemathesis worker: concurrent fuzzing would fill the queue, and 503 is a 5xx.
(cd "$OUT" && "$VENV/bin/st" run "$URL/openapi.json" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$MAX_EXAMPLES" --workers 1 --seed 1 \
  --request-timeout 60 --report junit --report-dir "$OUT/report") || status=$?

# The server survived: healthy, no panic in its log, a clean exit on SIGTERM.
if ! curl -fsS "$URL/healthz" >/dev/null; then
  echo "FAIL: /healthz does not answer after fuzzing" >&2; status=1
fi
echo "answers by route and status (server metrics):"
curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/metrics" | grep '^reticle_http_requests_total' \
  | sed 's/^reticle_http_requests_total/  /' | tee "$OUT/answers.txt"
if grep -q 'status="5' "$OUT/answers.txt"; then
  echo "FAIL: the server answered 5xx" >&2; status=1
fi
if grep -qi 'panicked' "$OUT/server.stderr"; then
  echo "FAIL: the server panicked:" >&2; grep -i -A3 panicked "$OUT/server.stderr" >&2; status=1
fi
kill -TERM $PID
if ! wait $PID; then
  echo "FAIL: the server did not exit 0 on SIGTERM" >&2; status=1
fi
trap - EXIT
[ $status -eq 0 ] && echo "serve_fuzz: PASS ($MAX_EXAMPLES examples per operation)" \
  || echo "serve_fuzz: FAIL" >&2
exit $status
