#!/usr/bin/env bash
# The seed-paper-style table for the shipped recipe: training-free / SFT / SFT→GRPO, answering
# directly or thinking first, with the normalized length reward off and on. Reuses the data
# and the direct-mode SFT and GRPO runs of scripts/recipes/vlm_model.sh (run it first);
# adds the other cells beside them in $OUT/table/. Every cell resumes / is skipped when done.
#
#   scripts/recipes/vlm_table.sh
#   THINK_SFT_STEPS=1500 GRPO_STEPS=40 scripts/recipes/vlm_table.sh   # the full budget
#
# Held-out accuracy comes from `reticle-train eval` (greedy, libtorch) on the same held-out
# sets for every cell; results.md in $OUT/table is the table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

OUT=${OUT:-runs/vlm}
GRPO_STEPS=${GRPO_STEPS:-40}
THINK_SFT_STEPS=${THINK_SFT_STEPS:-500}
EVAL_MAX=${EVAL_MAX:-100}       # held-out records per suite and cell
DEVICE=${DEVICE:-auto}
[ -f "$OUT/sft/done" ] || { echo "run scripts/recipes/vlm_model.sh first (no $OUT/sft/done)" >&2; exit 1; }

cargo build --release --locked -p reticle-trainer >&2
T=target/release/reticle-train
OUT_ABS=$(cd "$OUT" && pwd)
DATA=$OUT_ABS/data
TAB=$OUT_ABS/table
mkdir -p "$TAB/configs"
results=$TAB/results.jsonl

config() {  # template mode steps length_weight → TOML on stdout
  local tokens=16
  [ "$2" = think ] && tokens=80
  sed -e "s#@DATA@#$DATA#g" -e "s/@SFT_STEPS@/$3/g" -e "s/@GRPO_STEPS@/$3/g" \
      -e "s/^mode = \"direct\"/mode = \"$2\"/" -e "s/^total_steps = 0$/total_steps = 1/" \
      -e "s/^max_new_tokens = 16/max_new_tokens = $tokens/" -e "s/^max_completion_len = 16/max_completion_len = $tokens/" \
      "scripts/recipes/vlm/$1.toml"
  if [ "$4" != 0 ]; then
    # σ(α(L−L0)/L0) with L0 = the reference completions' typical length in this mode.
    printf '\n[grpo.rewards.weights]\nformat = 1.0\naccuracy = 1.0\nlength = %s\n[grpo.rewards.length]\ntarget_tokens = %s\nalpha = 1.0\n' "$4" "$((tokens / 2))"
  fi
}
train() {  # cell command template mode steps length_weight [--init RUN]
  local cell=$1 cmd=$2 dir=$TAB/$1
  if [ -f "$dir/done" ]; then return; fi
  if [ -e "$dir/checkpoints/latest" ]; then
    $T "$cmd" --out "$dir" --resume --device "$DEVICE" >&2
  else
    rm -rf "$dir"
    config "$3" "$4" "$5" "$6" > "$TAB/configs/$cell.toml"
    shift 6
    $T "$cmd" --config "$TAB/configs/$cell.toml" --out "$dir" --device "$DEVICE" "$@" >&2
  fi
  touch "$dir/done"
}
evaluate() {  # cell run mode method length
  local cell=$1 run=$2
  for s in ui spatial; do
    local f=$TAB/$cell-eval-$s.json
    [ -f "$f" ] || { $T eval --run "$run" --data "$DATA/$s-eval" --max "$EVAL_MAX" --json --device "$DEVICE" > "$f.tmp" && mv "$f.tmp" "$f"; }
    python3 - "$f" "$s" "$3" "$4" "$5" >> "$results" <<'PY'
import json, sys
path, suite, mode, method, length = sys.argv[1:]
s = json.load(open(path))["summary"]
acc = [t.get("accuracy") for t in s["tasks"] if t.get("accuracy") is not None]
print(json.dumps({"suite": suite, "mode": mode, "method": method, "length_reward": length,
                  "accuracy": acc[0] if acc else None, "format_rate": s["format_rate"],
                  "mean_length": s["mean_length"], "n": s["n"]}))
PY
  done
}
: > "$results"
train free sft sft direct 0 0
evaluate free "$TAB/free" direct training-free off
evaluate sft-direct "$OUT_ABS/sft" direct SFT off
evaluate grpo-direct "$OUT_ABS/grpo" direct SFT→GRPO off
train grpo-direct-len grpo grpo direct "$GRPO_STEPS" 0.5 --init "$OUT_ABS/sft"
evaluate grpo-direct-len "$TAB/grpo-direct-len" direct SFT→GRPO on
train sft-think sft sft think "$THINK_SFT_STEPS" 0
evaluate sft-think "$TAB/sft-think" think "SFT ($THINK_SFT_STEPS steps)" off
train grpo-think grpo grpo think "$GRPO_STEPS" 0 --init "$TAB/sft-think"
evaluate grpo-think "$TAB/grpo-think" think SFT→GRPO off
train grpo-think-len grpo grpo think "$GRPO_STEPS" 0.5 --init "$TAB/sft-think"
evaluate grpo-think-len "$TAB/grpo-think-len" think SFT→GRPO on

python3 - "$results" > "$TAB/results.md" <<'PY'
import json, sys
print("| suite | method | mode | length reward | held-out accuracy | format rate | mean length (tokens) | n |")
print("|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    a = "–" if r["accuracy"] is None else f"{100 * r['accuracy']:.0f} %"
    print(f"| {r['suite']} | {r['method']} | {r['mode']} | {r['length_reward']} | {a} | {100 * r['format_rate']:.0f} % | {r['mean_length']:.1f} | {r['n']} |")
PY
cat "$TAB/results.md"
