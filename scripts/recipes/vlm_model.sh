#!/usr/bin/env bash
# Trains, evaluates and exports a ReticleVLM package (the text-answer architecture; the
# shipped default is now the pointer policy of scripts/recipes/default_model.sh): one multi-task
# policy for `ui` clicks and `spatial` referring expressions, SFT then GRPO, on the CPU.
#
#   scripts/recipes/vlm_model.sh                 # the full recipe (~1.5–2 h on 2 cores)
#   SFT_STEPS=200 GRPO_STEPS=10 OUT=/tmp/d scripts/recipes/vlm_model.sh   # a quick try
#
# Every stage resumes: a killed run continues from its last checkpoint, finished stages are
# skipped. Training data and held-out data come from disjoint suite seeds; the held-out
# evaluation runs the exported package through ONNX Runtime (`reticle eval`), exactly what
# users get. The result lands in $OUT/package and, with SHIP=1 (off by default since the
# pointer became the default), is copied to models/default without weights.safetensors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

TRAIN_N=${TRAIN_N:-5000}      # records per suite
EVAL_N=${EVAL_N:-200}         # held-out records per suite
SFT_STEPS=${SFT_STEPS:-900}
GRPO_STEPS=${GRPO_STEPS:-40}
DEVICE=${DEVICE:-auto}
OUT=${OUT:-runs/vlm}
SHIP=${SHIP:-0}

cargo build --release --locked -p reticle-agents -p reticle-trainer >&2
R=target/release/reticle
T=target/release/reticle-train
mkdir -p "$OUT/data"
OUT_ABS=$(cd "$OUT" && pwd)
DATA=$OUT_ABS/data
log() { printf '\n==> %s\n' "$*" >&2; }

gen() {  # suite, n, seed, folder
  [ -f "$DATA/$4/data.jsonl" ] || $R data gen --suite "$1" --n "$2" --seed "$3" --out "$DATA/$4" >&2
}
log "data (train seeds 1000/2000, held-out seeds 999999/999998)"
gen ui "$TRAIN_N" 1000 ui
gen spatial "$TRAIN_N" 2000 spatial
gen ui "$EVAL_N" 999999 ui-eval
gen spatial "$EVAL_N" 999998 spatial-eval

fill() {  # template → config with data paths and steps
  sed -e "s#@DATA@#$DATA#g" -e "s/@SFT_STEPS@/$SFT_STEPS/g" -e "s/@GRPO_STEPS@/$GRPO_STEPS/g" "$1"
}
stage() {  # name, command, extra args…: runs or resumes one training stage
  local name=$1 cmd=$2 dir=$OUT_ABS/$1
  shift 2
  if [ -f "$dir/done" ]; then log "$name: done already"; return; fi
  if [ -e "$dir/checkpoints/latest" ]; then
    log "$name: resuming"
    $T "$cmd" --out "$dir" --resume --device "$DEVICE" >&2
  else
    log "$name: training"
    rm -rf "$dir"
    mkdir -p "$OUT_ABS/configs"
    fill "scripts/recipes/vlm/$name.toml" > "$OUT_ABS/configs/$name.toml"
    $T "$cmd" --config "$OUT_ABS/configs/$name.toml" --out "$dir" --device "$DEVICE" "$@" >&2
  fi
  touch "$dir/done"
}
stage sft sft
stage grpo grpo --init "$OUT_ABS/sft"

log "export"
[ -f "$OUT_ABS/package/model.json" ] || $T export --run "$OUT_ABS/grpo" --out "$OUT_ABS/package" >&2

log "held-out evaluation of the exported package (ONNX Runtime, greedy)"
for s in ui spatial; do
  $R eval --model "$OUT_ABS/package" --data "$DATA/$s-eval" --json > "$OUT_ABS/eval-$s.json"
done
# The SFT checkpoint alone, for the results table (trainer-side greedy eval, same data).
for s in ui spatial; do
  [ -f "$OUT_ABS/sft-eval-$s.json" ] || $T eval --run "$OUT_ABS/sft" --data "$DATA/$s-eval" --json --device "$DEVICE" > "$OUT_ABS/sft-eval-$s.json"
done
python3 scripts/recipes/vlm/summary.py "$OUT_ABS" | tee "$OUT_ABS/summary.md"

if [ "$SHIP" = 1 ]; then
  log "shipping to models/default"
  tmp=models/.default.tmp
  rm -rf "$tmp" && mkdir -p "$tmp"
  for f in "$OUT_ABS"/package/*; do
    case $(basename "$f") in weights.safetensors) ;; *) cp "$f" "$tmp/" ;; esac
  done
  # The manifest must not name the file left out (the runtime checks every named file).
  python3 - "$tmp/model.json" <<'PY'
import json, sys
path = sys.argv[1]
manifest = json.load(open(path))
manifest.pop("weights", None)
open(path, "w").write(json.dumps(manifest, indent=2) + "\n")
PY
  python3 scripts/recipes/vlm/model_card.py "$OUT_ABS" > "$tmp/README.md"
  rm -rf models/default.old; [ -d models/default ] && mv models/default models/default.old
  mv "$tmp" models/default && rm -rf models/default.old
  du -sh models/default >&2
fi
