#!/usr/bin/env bash
# Text reader speed: cold / unchanged screen / one dialog changed at 1280×800 and 1920×1080,
# against the Python peer (rapidocr 3.10 on onnxruntime, scripts/ocr_peer.py, same graphs and
# thread count) in the same run; then the reader's recall of the `ui` suite's labels at
# 1280×800, 1920×1080 and 125 % / 200 % scale (held-out seed 424242).
#
#   scripts/bench_ocr.sh                      # both
#   ITERS=40 THREADS=1 scripts/bench_ocr.sh   # more iterations, one thread each side
#   DET_SCALE=0.75 scripts/bench_ocr.sh       # another detection resolution
#   RECALL=0 scripts/bench_ocr.sh             # speed only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

export RETICLE_BENCH_ITERS=${ITERS:-20} RETICLE_BENCH_THREADS=${THREADS:-2}
[ -n "${DET_SCALE:-}" ] && export RETICLE_BENCH_DET_SCALE=$DET_SCALE
cargo bench --locked -p reticle-runtime --bench ocr

if [ "${RECALL:-1}" != 0 ]; then
  cargo build --release --locked -p reticle-agents >&2
  R=${CARGO_TARGET_DIR:-target}/release/reticle
  out=target/bench-ocr
  mkdir -p "$out"
  for spec in "1280x800 1.0" "1920x1080 1.0" "1280x800 1.25" "1920x1080 2.0"; do
    set -- $spec
    d=$out/ui-$1-$2
    if [ ! -f "$d/spans.jsonl" ]; then
      w=${1%x*}; h=${1#*x}
      printf '[ui]\nresolutions = [[%s, %s]]\nother_resolution_rate = 0.0\nscales = [%s]\n' "$w" "$h" "$2" >"$out/ui-$1-$2.toml"
      $R data gen --suite ui --n "${SCREENS:-40}" --seed 424242 --out "$d" --config "$out/ui-$1-$2.toml" --force >&2
    fi
    echo "== $1 at scale $2 (${SCREENS:-40} screens, ui seed 424242)"
    $R data perceive "$d" --threads "$RETICLE_BENCH_THREADS" --report
  done
fi
