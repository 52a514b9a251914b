#!/usr/bin/env bash
# The seed-paper table for the pointer policy (issue 12): SFT vs SFT→GRPO vs GRPO-only, with
# few-shot (first 100 / 1,000 training records) and full training sets, over seeds; held-out
# accuracy by greedy `reticle-train eval` (the runtime's click rule, point in box for `ui`).
#
#   scripts/recipes/pointer_table.sh                          # defaults below
#   TRAIN_DIR=runs/pointer/data/ui EVAL_DIR=runs/pointer/data/ui-eval \
#     scripts/recipes/pointer_table.sh                        # reuse default_model.sh's data
#   SEEDS=0 SIZES="100 full" SFT_STEPS=20 GRPO_STEPS=3 OUT=/tmp/pt scripts/recipes/pointer_table.sh
#
# Everything lands in $OUT (default runs/pointer_table): data (unless TRAIN_DIR / EVAL_DIR
# point elsewhere), one folder per (seed, size) with the runs sft, sft-grpo and grpo-only,
# their logs and eval.json, results.jsonl (one line per evaluated run) and results.md (the
# table: mean ± sd over seeds, and the paired gains over SFT). Resumable: a run whose
# eval.json exists is skipped; a killed run continues from its last checkpoint.
#
# Training records: suite seed 1000 (TRAIN_N of them; "full" = all of them), their text spans
# the labels the screens drew (boxes jittered: the pointer's fallback when a dataset has no
# spans.jsonl, as default_model.sh's `ui` folder), or the reader's spans with PERCEIVE_TRAIN=1
# (PP-OCRv6 on every training screen: slow on a CPU). Held-out: suite seed 999999, never
# trained on, its spans read by the runtime's reader (`reticle data perceive`), as at run time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

SUITE=${SUITE:-ui}
SEEDS=${SEEDS:-"0 1 2"}
SIZES=${SIZES:-"100 1000 full"}  # training records per cell: the first N of the training set, or all
SIZE=${SIZE:-small}              # pointer preset (micro | small)
TRAIN_N=${TRAIN_N:-4000}         # records generated for the training set ("full")
EVAL_N=${EVAL_N:-200}            # held-out records
SFT_STEPS=${SFT_STEPS:-80}
SFT_BATCH=${SFT_BATCH:-8}
SFT_LR=${SFT_LR:-1e-3}
GRPO_STEPS=${GRPO_STEPS:-10}
GRPO_PROMPTS=${GRPO_PROMPTS:-8}
GRPO_GROUP=${GRPO_GROUP:-8}
GRPO_LR=${GRPO_LR:-1e-4}
PERCEIVE_TRAIN=${PERCEIVE_TRAIN:-0}
BUILD=${BUILD:-1}                # 0: use the binaries already built
DEVICE=${DEVICE:-auto}
OUT=${OUT:-runs/pointer_table}
START=$(date +%s)

[ "${BUILD:-1}" = 0 ] || cargo build --release --locked -p reticle-agents -p reticle-trainer >&2
TARGET=${CARGO_TARGET_DIR:-target}
R=$TARGET/release/reticle
T=$TARGET/release/reticle-train
mkdir -p "$OUT"
OUT_ABS=$(cd "$OUT" && pwd)
TRAIN_DIR=${TRAIN_DIR:-$OUT_ABS/data/$SUITE}
EVAL_DIR=${EVAL_DIR:-$OUT_ABS/data/$SUITE-eval}
results=$OUT_ABS/results.jsonl
log() { printf '==> [%5ds] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }

# Data: training and held-out sets come from disjoint suite seeds.
[ -f "$TRAIN_DIR/data.jsonl" ] || $R data gen --suite "$SUITE" --n "$TRAIN_N" --seed 1000 --out "$TRAIN_DIR" >&2
[ -f "$EVAL_DIR/data.jsonl" ] || $R data gen --suite "$SUITE" --n "$EVAL_N" --seed 999999 --out "$EVAL_DIR" >&2
if [ "$SUITE" = ui ]; then
  # `data perceive` is resumable: an interrupted read continues where it stopped.
  [ -f "$EVAL_DIR/spans.jsonl" ] && [ "$(wc -l < "$EVAL_DIR/spans.jsonl")" -ge "$(wc -l < "$EVAL_DIR/data.jsonl")" ] \
    || { log "perception: the runtime's text reader on the held-out set"; $R data perceive "$EVAL_DIR" >&2; }
  if [ "$PERCEIVE_TRAIN" = 1 ]; then
    [ -f "$TRAIN_DIR/spans.jsonl" ] && [ "$(wc -l < "$TRAIN_DIR/spans.jsonl")" -ge "$(wc -l < "$TRAIN_DIR/data.jsonl")" ] \
      || { log "perception: the runtime's text reader on the training set"; $R data perceive "$TRAIN_DIR" >&2; }
  fi
fi
TRAIN_RECORDS=$(wc -l < "$TRAIN_DIR/data.jsonl")
log "training set $TRAIN_DIR ($TRAIN_RECORDS records), held-out $EVAL_DIR (first $EVAL_N)"

config() {  # $1 = phase (sft|grpo), $2 = max_train (0 = all), $3 = seed
  local steps lr warmup min_ratio wd
  if [ "$1" = sft ]; then
    steps=$SFT_STEPS lr=$SFT_LR warmup=$(( SFT_STEPS / 10 )) min_ratio=0.05 wd=0.01
  else
    steps=$GRPO_STEPS lr=$GRPO_LR warmup=0 min_ratio=0.5 wd=0.0
  fi
  cat <<TOML
# Written by scripts/recipes/pointer_table.sh.
[model]
architecture = "pointer"
size = "$SIZE"
$([ "$SIZE" = small ] && printf '# The table was measured before element proposals: the small preset as it was then.\n[model.overrides.text]\nmax_candidates = 64\nmax_elements = 0\n')

[data]
train = ["$TRAIN_DIR"]
max_train = $2

[sft]
steps = $SFT_STEPS
batch_size = $SFT_BATCH

# As scripts/recipes/pointer/grpo.toml (the shipped package's GRPO stage).
[grpo]
steps = $GRPO_STEPS
batch_prompts = $GRPO_PROMPTS
group_size = $GRPO_GROUP
mu = 1
dynamic_sampling = true
max_refill_rounds = 2

[grpo.sample]
temperature = 1.0

[grpo.loss]
eps_low = 0.2
eps_high = 0.28
beta = 0.04

[grpo.rewards.weights]
format = 0.0
accuracy = 1.0
process = 0.2
length = 0.0

[optim]
lr = $lr
warmup_steps = $warmup
total_steps = $steps
min_lr_ratio = $min_ratio
weight_decay = $wd
grad_clip = 1.0

[run]
seed = $3
checkpoint_every = 25
eval_every = 0
TOML
}

cell() {  # $1 = seed, $2 = size, $3 = arm (sft|sft-grpo|grpo-only)
  local seed=$1 size=$2 arm=$3 base=$OUT_ABS/seed$1/$2 max cmd t0 t1 t2
  local dir=$base/$arm
  max=$([ "$size" = full ] && echo 0 || echo "$size")
  cmd=$([ "$arm" = sft ] && echo sft || echo grpo)
  [ -f "$dir/eval.json" ] && return
  mkdir -p "$base"
  t0=$(date +%s)
  if [ ! -f "$dir/done" ]; then
    if [ -e "$dir/checkpoints/latest" ]; then
      log "seed $seed, $size records, $arm: resuming"
      $T "$cmd" --out "$dir" --resume --device "$DEVICE" >> "$dir.log" 2>&1
    else
      log "seed $seed, $size records, $arm: training"
      rm -rf "$dir"
      config "$cmd" "$max" "$seed" > "$base/$arm.toml"
      local init=()
      [ "$arm" = sft-grpo ] && init=(--init "$base/sft")
      $T "$cmd" --config "$base/$arm.toml" --out "$dir" --device "$DEVICE" "${init[@]}" > "$dir.log" 2>&1
    fi
    touch "$dir/done"
  fi
  t1=$(date +%s)
  $T eval --run "$dir" --data "$EVAL_DIR" --json --device "$DEVICE" > "$dir/eval.json.tmp" 2>> "$dir.log"
  mv "$dir/eval.json.tmp" "$dir/eval.json"
  t2=$(date +%s)
  python3 - "$dir/eval.json" "$SUITE" "$seed" "$size" "$arm" "$max" "$TRAIN_RECORDS" "$((t1 - t0))" "$((t2 - t1))" >> "$results" <<'PY'
import json, sys
path, suite, seed, size, arm, max_train, total, train_s, eval_s = sys.argv[1:]
e = json.load(open(path))
records = int(max_train) or int(total)
print(json.dumps({"suite": suite, "seed": int(seed), "size": size, "records": min(records, int(total)),
                  "arm": arm, "accuracy": e["accuracy"], "argmax_accuracy": e["argmax_accuracy"],
                  "mean_confidence": e["mean_confidence"], "n": e["n"],
                  "train_s": int(train_s), "eval_s": int(eval_s)}))
PY
  log "seed $seed, $size records, $arm: held-out accuracy $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$dir/eval.json") (train $((t1 - t0)) s, eval $((t2 - t1)) s)"
}

# Seeds outermost: after the first seed the table has every cell once.
for seed in $SEEDS; do
  for size in $SIZES; do
    cell "$seed" "$size" sft
    cell "$seed" "$size" sft-grpo
    cell "$seed" "$size" grpo-only
  done
done

"$RETICLE_TOOLS_VENV/bin/python" - "$results" "$SIZES" > "$OUT_ABS/results.md" <<'PY'
import json, statistics, sys
path, sizes = sys.argv[1], sys.argv[2].split()
cells = {}
for line in open(path):
    r = json.loads(line)
    cells[(r["size"], r["arm"], r["seed"])] = r  # the last line per cell wins
arms = [("sft", "SFT"), ("sft-grpo", "SFT→GRPO"), ("grpo-only", "GRPO-only")]

def fmt(xs, signed=False):
    if not xs:
        return "–"
    m = 100 * statistics.mean(xs)
    sd = 100 * statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{m:+.1f} ± {sd:.1f}" if signed else f"{m:.1f} ± {sd:.1f} %"

print("| training records | " + " | ".join(a[1] for a in arms)
      + " | SFT→GRPO − SFT (points) | GRPO-only − SFT (points) | seeds |")
print("|---|" + "---|" * (len(arms) + 3))
for size in sizes:
    acc = {a: {s: r["accuracy"] for (z, aa, s), r in cells.items() if z == size and aa == a}
           for a, _ in arms}
    recs = sorted({r["records"] for (z, _, _), r in cells.items() if z == size})
    label = f"{size} ({recs[0]:,})" if size == "full" and recs else size
    row = [fmt(list(acc[a].values())) for a, _ in arms]
    gains = []
    for other in ("sft-grpo", "grpo-only"):
        common = sorted(set(acc["sft"]) & set(acc[other]))
        gains.append(fmt([acc[other][s] - acc["sft"][s] for s in common], signed=True))
    seeds = sorted({s for (z, _, s) in cells if z == size})
    print(f"| {label} | " + " | ".join(row + gains) + f" | {len(seeds)} |")
PY
cat "$OUT_ABS/results.md"
log "table done"
