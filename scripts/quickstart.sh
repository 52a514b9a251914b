#!/usr/bin/env bash
# The main job on a fresh machine, with no torch installed: sets up ONNX Runtime, builds the
# `reticle` binary, generates a small sample of every synthetic suite and validates it.
# Output lands in ./out/quickstart (override with OUT=DIR).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh runtime
# shellcheck source=scripts/env.sh
source scripts/env.sh
out=${OUT:-out/quickstart}

cargo build --release --locked -p reticle-agents
reticle=target/release/reticle

$reticle doctor
for spec in "ui 24" "spatial 12" "shapes 24"; do
  set -- $spec
  $reticle data gen --suite "$1" --n "$2" --seed 7 --out "$out/$1" --force
done
$reticle data check "$out/ui" "$out/spatial" "$out/shapes"
$reticle data tokenizer --data "$out/ui" "$out/spatial" "$out/shapes" --vocab-size 600 --out "$out/tokenizer.json"
echo
echo "Images, depth maps, masks and data.jsonl are in $out/{ui,spatial,shapes}."
