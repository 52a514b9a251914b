#!/usr/bin/env bash
# Runtime speed: `Grounder::ground` on a 1280×800 screenshot with the `small` model, per stage
# and end to end, against the Python peer (runtime/benches/peer_ort.py) in the same run.
#
#   scripts/bench_runtime.sh                       # CPU
#   PROVIDER=cuda scripts/bench_runtime.sh         # CUDA (needs the onnxruntime-gpu library)
#   ITERS=100 THREADS=1 scripts/bench_runtime.sh   # more iterations; pin intra-op threads
#   PACKAGE=models/default scripts/bench_runtime.sh # a given package (the shipped default)
#
# The package is an untrained `small` model (the speed does not depend on the weights; an
# untrained model writes its whole token budget): built once into target/bench-package/small
# and reused; REBUILD_PACKAGE=1 makes it again. See docs/runtime.md ("Speed").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

cargo build --release --locked -p reticle-agents -p reticle-trainer >&2
R=target/release/reticle
T=target/release/reticle-train
cache=target/bench-package
pkg=$cache/small

if [ -n "${PACKAGE:-}" ]; then
  pkg=$PACKAGE
elif [ "${REBUILD_PACKAGE:-0}" = 1 ] || [ ! -f "$pkg/model.json" ]; then
  work=$cache/work
  rm -rf "$work"
  mkdir -p "$work"
  work_abs=$(cd "$work" && pwd)
  # A small ui dataset is enough for the tokenizer; steps = 0 saves the step-0 checkpoint.
  $R data gen --suite ui --n 200 --seed 1 --out "$work/data" >&2
  cat >"$work/config.toml" <<TOML
[model]
size = "small"
[data]
train = ["$work_abs/data"]
vocab_size = 768
[sft]
steps = 0
[run]
seed = 0
TOML
  $T sft --config "$work/config.toml" --out "$work/run" --device cpu >&2
  $T export --run "$work/run" --out "$pkg" --force >&2
fi

export RETICLE_BENCH_PACKAGE
RETICLE_BENCH_PACKAGE=$(cd "$pkg" && pwd)
if [ -n "${PROVIDER:-}" ]; then export RETICLE_BENCH_PROVIDER=$PROVIDER; fi
if [ -n "${ITERS:-}" ]; then export RETICLE_BENCH_ITERS=$ITERS; fi
if [ -n "${THREADS:-}" ]; then export RETICLE_BENCH_THREADS=$THREADS; fi
cargo bench --locked -p reticle-runtime --bench ground
