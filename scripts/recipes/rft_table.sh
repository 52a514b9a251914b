#!/usr/bin/env bash
# Reproduces the shape of the seed papers' tables on reticle's suites: training-free vs SFT vs
# SFT→GRPO vs GRPO-only, with and without thinking, few-shot, held-out accuracy over seeds.
#
#   scripts/recipes/rft_table.sh                       # defaults below
#   SUITES="ui spatial" SEEDS="0 1 2" SIZE=small TRAIN_N=300 scripts/recipes/rft_table.sh
#
# Everything lands in $OUT (default runs/rft_table): datasets, one run folder per cell,
# results.jsonl (one line per evaluated run) and results.md (the table).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

SUITES=${SUITES:-"ui spatial"}
SEEDS=${SEEDS:-"0 1 2"}
MODES=${MODES:-"direct think"}
SIZE=${SIZE:-small}
TRAIN_N=${TRAIN_N:-300}
EVAL_N=${EVAL_N:-100}
SFT_STEPS=${SFT_STEPS:-300}
GRPO_STEPS=${GRPO_STEPS:-60}
DEVICE=${DEVICE:-auto}
OUT=${OUT:-runs/rft_table}

cargo build --release --locked -p reticle-agents -p reticle-trainer >&2
R=target/release/reticle
T=target/release/reticle-train
mkdir -p "$OUT"
OUT_ABS=$(cd "$OUT" && pwd)
results=$OUT/results.jsonl

for suite in $SUITES; do
  # Training and held-out data come from disjoint seeds.
  [ -f "$OUT/data/$suite/data.jsonl" ] || $R data gen --suite "$suite" --n "$TRAIN_N" --seed 1000 --out "$OUT/data/$suite"
  [ -f "$OUT/data/$suite-eval/data.jsonl" ] || $R data gen --suite "$suite" --n "$EVAL_N" --seed 999999 --out "$OUT/data/$suite-eval"
  for mode in $MODES; do
    tokens=24; [ "$mode" = think ] && tokens=96
    for seed in $SEEDS; do
      base=$OUT/$suite/$mode/seed$seed
      mkdir -p "$base"
      config() {  # $1 = sft steps, $2 = grpo steps
        cat <<TOML
[model]
size = "$SIZE"
[data]
train = ["$OUT_ABS/data/$suite"]
eval = ["$OUT_ABS/data/$suite-eval"]
max_eval = $EVAL_N
vocab_size = 768
[prep]
mode = "$mode"
[sft]
steps = $1
batch_size = 8
[grpo]
steps = $2
batch_prompts = 4
group_size = 8
[grpo.sample]
max_new_tokens = $tokens
[grpo.loss]
max_completion_len = $tokens
[optim]
lr = 1e-3
warmup_steps = 10
total_steps = $(( $1 > $2 ? $1 : ($2 > 0 ? $2 : 1) ))
[run]
seed = $seed
checkpoint_every = 100
TOML
      }
      run() {  # $1 = row name, $2 = command (sft|grpo), then extra arguments; steps from SFT_STEPS_ROW / GRPO_STEPS_ROW
        local row=$1 cmd=$2 dir=$base/$1
        shift 2
        if [ ! -f "$dir/eval.json" ]; then
          rm -rf "$dir"
          config "$SFT_STEPS_ROW" "$GRPO_STEPS_ROW" > "$base/$row.toml"
          $T "$cmd" --config "$base/$row.toml" --out "$dir" --device "$DEVICE" "$@" >&2
          $T eval --run "$dir" --json --device "$DEVICE" > "$dir/eval.json.tmp" && mv "$dir/eval.json.tmp" "$dir/eval.json"
        fi
        python3 - "$dir/eval.json" "$suite" "$mode" "$seed" "$row" >> "$results" <<'PY'
import json, sys
path, suite, mode, seed, row = sys.argv[1:]
s = json.load(open(path))["summary"]
acc = [t.get("accuracy") for t in s["tasks"] if t.get("accuracy") is not None]
print(json.dumps({"suite": suite, "mode": mode, "seed": int(seed), "row": row,
                  "accuracy": acc[0] if acc else None, "format_rate": s["format_rate"],
                  "mean_length": s["mean_length"], "n": s["n"]}))
PY
      }
      SFT_STEPS_ROW=0 GRPO_STEPS_ROW=0 run training-free sft
      SFT_STEPS_ROW=$SFT_STEPS GRPO_STEPS_ROW=0 run sft sft
      SFT_STEPS_ROW=0 GRPO_STEPS_ROW=$GRPO_STEPS run sft-grpo grpo --init "$base/sft"
      SFT_STEPS_ROW=0 GRPO_STEPS_ROW=$GRPO_STEPS run grpo-only grpo
    done
  done
done

python3 - "$results" > "$OUT/results.md" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows.setdefault((r["suite"], r["row"], r["mode"]), {})[r["seed"]] = r  # last result per seed wins
print("| suite | method | mode | held-out accuracy (mean ± sd over seeds) | format rate | seeds |")
print("|---|---|---|---|---|---|")
order = ["training-free", "sft", "sft-grpo", "grpo-only"]
for (suite, row, mode), by_seed in sorted(rows.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]), kv[0][2])):
    accs = [r["accuracy"] or 0.0 for r in by_seed.values()]
    fmt = [r["format_rate"] for r in by_seed.values()]
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f"| {suite} | {row} | {mode} | {100*statistics.mean(accs):.1f} ± {100*sd:.1f} % | {100*statistics.mean(fmt):.0f} % | {len(accs)} |")
PY
cat "$OUT/results.md"
