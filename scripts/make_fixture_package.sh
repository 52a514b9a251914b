#!/usr/bin/env bash
# Regenerates the committed model package agents/tests/fixtures/micro-ui, which the `reticle`
# CLI tests (agents/tests/cli) run through ONNX Runtime. The agents crate must never depend
# on the trainer (libtorch), so its tests use this exported package instead of training one.
#
#   scripts/make_fixture_package.sh        # needs libtorch: scripts/setup.sh all
#
# Recipe (the same as tests/pipeline/main.rs): 12 `ui` records (seed 21), the `micro` model
# trained with SFT on them until it has memorised them (120 steps, batch 12, lr 3e-3,
# vocabulary 400, 24 new tokens), exported with `reticle-train export --force`. Suite data is
# a pure function of (suite, seed, index) and the run a pure function of its config and seed,
# so the tests can regenerate the very same records with `reticle_suites::generate`.
# Rerun this whenever the export format (model.json, graph I/O) changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh

out=agents/tests/fixtures/micro-ui
# Builds land where the other scripts put them, unless the caller chose a target folder.
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -p reticle-agents -p reticle-trainer
reticle=$target/release/reticle
train=$target/release/reticle-train

work=$(mktemp -d "${TMPDIR:-/tmp}/reticle-fixture.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$reticle" data gen --suite ui --n 12 --seed 21 --out "$work/ui"
cat >"$work/config.toml" <<EOF
[model]
size = "micro"
[data]
train = ["$work/ui"]
vocab_size = 400
[sft]
steps = 120
batch_size = 12
[optim]
lr = 3e-3
warmup_steps = 5
total_steps = 120
[grpo.sample]
max_new_tokens = 24
[run]
seed = 0
EOF
"$train" sft --config "$work/config.toml" --out "$work/run" --device cpu
# The run's own evaluation on its training records: the tests expect it to have memorised them.
"$train" eval --run "$work/run" --data "$work/ui" --device cpu
"$train" export --run "$work/run" --out "$out" --name micro-ui --force

# The model card names the run folder, which is a temporary path; keep the card but not the
# machine-specific path in it.
sed -i "s|$work|<tmp>|g" "$out/README.md"
du -sh "$out"
ls -l "$out"
