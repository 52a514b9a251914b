#!/usr/bin/env bash
# The main job on a fresh machine, with no torch installed: sets up ONNX Runtime and the OCR
# graphs, builds the `reticle` binary, reads the text of the shipped screenshots (the
# perception stage) and runs the shipped default package (models/default) on the shipped
# examples — clicks on screenshots, 3-D robot targets on RGB-D camera frames — printing each
# answer and writing annotated images to ./out/quickstart (override with OUT=DIR).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh runtime
# shellcheck source=scripts/env.sh
source scripts/env.sh
out=${OUT:-out/quickstart}
model=${MODEL:-models/default}
ex=examples/quickstart
mkdir -p "$out"
# Only warnings from the libraries: the answers are what this script prints.
export RUST_LOG=${RUST_LOG:-warn,ort=error}

cargo build --release --locked -p reticle-agents
reticle=${CARGO_TARGET_DIR:-target}/release/reticle
$reticle doctor

echo
echo "== text read on the screenshots (PP-OCRv6 through ONNX Runtime; docs/perception.md) =="
for shot in "$ex"/screens/*.png; do
  stem=$(basename "$shot" .png)
  $reticle perceive --image "$shot" --json --annotate "$out/$stem.read.png" </dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin); ms = r["timings"]["total_ms"]
texts = [s["text"] for s in r["spans"]]
more = " …" if len(texts) > 8 else ""
print(f"{sys.argv[1]:<14} {len(texts):>3} lines in {ms:.0f} ms: " + " | ".join(texts[:8]) + more)
' "$stem.png"
done
echo "(lines blue, words green: $out/*.read.png)"

echo
echo "== clicks on screenshots ($ex/screens) =="
hits=0; n=0
while IFS=$'\t' read -r image instruction box; do
  case $image in '#'*|'') continue ;; esac
  stem=${image%.png}
  json=$($reticle ground --model "$model" --image "$ex/screens/$image" --instruction "$instruction" \
    --json --annotate "$out/$stem.click.png" </dev/null)
  verdict=$(python3 -c '
import json, sys
g = json.loads(sys.argv[1]); x0, y0, x1, y1 = map(float, sys.argv[2].split(","))
if not g.get("point"): print("no point:", g["result"]["answer"]); sys.exit()
x, y = g["point"]; t = g["result"]["timings"]
ms = t["perceive_ms"] + t["preprocess_ms"] + t["encode_ms"] + t["decode_ms"]
hit = "HIT " if x0 <= x <= x1 and y0 <= y <= y1 else "miss"
conf = g["result"].get("confidence")
conf = f", confidence {conf:.2f}" if conf is not None else ""
pm = t["perceive_ms"]
print(f"{hit} click ({x:.0f},{y:.0f}), target ({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f}){conf}, {ms:.0f} ms (reading the text {pm:.0f})")
' "$json" "$box")
  printf '%-14s %-45s %s\n' "$image" "\"$instruction\"" "$verdict"
  n=$((n + 1)); case $verdict in HIT*) hits=$((hits + 1)) ;; esac
done < "$ex/screens/instructions.tsv"
echo "$hits of $n clicks inside the target element (annotated: $out/*.click.png)"

echo
echo "== robot targets on RGB-D frames ($ex/frames, 640x480 + 16-bit depth) =="
while IFS=$'\t' read -r frame instruction; do
  case $frame in '#'*|'') continue ;; esac
  printf '%-8s "%s"\n' "$frame" "$instruction"
  $reticle robot --model "$model" --image "$ex/frames/$frame.rgb.png" --depth "$ex/frames/$frame.depth.png" \
    --camera "$ex/frames/$frame.camera.toml" --instruction "$instruction" --annotate "$out/$frame.target.png" </dev/null | sed 's/^/    /'
done < "$ex/frames/instructions.tsv"
echo
echo "Annotated images: $out/"
