#!/usr/bin/env bash
# A bounded load test of `reticle serve` on loopback: 32 concurrent clients post
# /v1/ground for DURATION seconds (at most 60), then the report gives p50/p99 latency,
# answers by kind (200, intended 503, errors) and the server's peak resident memory.
# Fails if any answer is neither 200 nor 503, or if the server does not exit 0 on SIGTERM.
#
#   scripts/serve_load.sh [DURATION_S]        bounded run (default 30 s, at most 60 s)
#   scripts/serve_load.sh --long SECONDS      longer run: shows whether memory stays flat
#
# Environment: CLIENTS (32), WORKERS (2), QUEUE (8; set it >= CLIENTS - WORKERS for a run
# without shedding), THREADS (intra-op threads per worker, 1), MODEL (package; default the
# test fixture), PROVIDER (cpu), PROFILE (dev | release), OUT (report folder).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [ "${1:-}" = "--long" ]; then
  DURATION=${2:?--long needs SECONDS}
  SAMPLE_S=5
else
  DURATION=${1:-30}
  SAMPLE_S=1
  if [ "$DURATION" -gt 60 ]; then
    echo "the bounded run is at most 60 s; use --long $DURATION" >&2
    exit 2
  fi
fi
CLIENTS=${CLIENTS:-32}
WORKERS=${WORKERS:-2}
QUEUE=${QUEUE:-8}
THREADS=${THREADS:-1}
MODEL=${MODEL:-agents/tests/fixtures/micro-ui}
PROVIDER=${PROVIDER:-cpu}
PROFILE=${PROFILE:-dev}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RETICLE_CACHE/target}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

if [ "$PROFILE" = release ]; then
  cargo build -q --release -p reticle-agents --bin reticle --example serve_load
  DIR=$CARGO_TARGET_DIR/release
else
  cargo build -q -p reticle-agents --bin reticle --example serve_load
  DIR=$CARGO_TARGET_DIR/debug
fi

# The image: a `ui` screen the fixture was trained on (same suite and seed).
"$DIR/reticle" data gen --suite ui --n 1 --seed 21 --out "$OUT/data" --force >/dev/null 2>&1
IMAGE=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["image"])' "$OUT/data/data.jsonl")
case "$IMAGE" in /*) ;; *) IMAGE=$OUT/data/$IMAGE ;; esac
INSTRUCTION=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["instruction"])' "$OUT/data/data.jsonl")

RUST_LOG=${RUST_LOG:-warn,ort=error} "$DIR/reticle" serve --model "$MODEL" --port 0 \
  --provider "$PROVIDER" --workers "$WORKERS" --queue "$QUEUE" --threads "$THREADS" \
  >"$OUT/server.stdout" 2>"$OUT/server.stderr" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q '^listening on ' "$OUT/server.stdout" 2>/dev/null && break
  kill -0 $PID 2>/dev/null || { cat "$OUT/server.stderr"; echo "server did not start" >&2; exit 1; }
  sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$OUT/server.stdout")
echo "server $URL (pid $PID): workers $WORKERS, queue $QUEUE, threads $THREADS, $PROVIDER, $PROFILE;" \
  "$CLIENTS clients for $DURATION s; report in $OUT"

status=0
"$DIR/examples/serve_load" --url "$URL" --image "$IMAGE" --instruction "$INSTRUCTION" \
  --clients "$CLIENTS" --duration-s "$DURATION" --pid $PID --sample-s $SAMPLE_S \
  --json "$OUT/report.json" || status=$?

curl -fsS "$URL/metrics" | grep -E '^reticle_(http_requests_total|queue_rejections_total|request_timeouts_total)' \
  >"$OUT/metrics.txt" || true
cat "$OUT/metrics.txt"
kill -TERM $PID
if ! wait $PID; then
  echo "FAIL: the server did not exit 0 on SIGTERM" >&2; status=1
fi
trap - EXIT
[ $status -eq 0 ] && echo "serve_load: PASS" || echo "serve_load: FAIL" >&2
exit $status
