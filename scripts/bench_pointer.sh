#!/usr/bin/env bash
# Pointer policy speed: a 1280×800 `ui` screen (the policy alone on spans read beforehand, end
# to end with a cold read, a screen session on the unchanged screen) and a 640×480 `spatial`
# frame (end to end, the policy alone), against the Python peer (runtime/benches/peer_pointer.py:
# onnxruntime on the same pointer.onnx, Pillow + numpy) in the same run.
#
#   scripts/bench_pointer.sh                          # CPU, models/default
#   PACKAGE=/tmp/pt/small-pkg scripts/bench_pointer.sh # another pointer package
#   PROVIDER=cuda scripts/bench_pointer.sh            # CUDA (needs the onnxruntime-gpu library)
#   ITERS=100 THREADS=1 scripts/bench_pointer.sh      # more iterations; pin intra-op threads
#   PEER=0 scripts/bench_pointer.sh                   # no peer
#
# The package must be `"architecture": "pointer"` (the bench says so otherwise); the speed
# does not depend on its weights. See docs/runtime.md ("Speed (pointer policy)").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

export RETICLE_BENCH_PACKAGE
RETICLE_BENCH_PACKAGE=$(cd "${PACKAGE:-models/default}" && pwd)
if [ -n "${PROVIDER:-}" ]; then export RETICLE_BENCH_PROVIDER=$PROVIDER; fi
if [ -n "${ITERS:-}" ]; then export RETICLE_BENCH_ITERS=$ITERS; fi
if [ -n "${WARMUP:-}" ]; then export RETICLE_BENCH_WARMUP=$WARMUP; fi
if [ -n "${THREADS:-}" ]; then export RETICLE_BENCH_THREADS=$THREADS; fi
if [ -n "${PEER:-}" ]; then export RETICLE_BENCH_PEER=$PEER; fi
cargo bench --locked -p reticle-runtime --bench pointer
