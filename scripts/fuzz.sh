#!/usr/bin/env bash
# Fuzzes reticle's parsers (models/fuzz) for a bounded time, each target in turn:
# `answer_grammar` (the answer grammar) and `manifest` (model.json, `Manifest::from_json`).
#
#   scripts/fuzz.sh [SECONDS] [TARGET]  # SECONDS per target, default 30; every target by default
#   scripts/fuzz.sh 60 manifest         # one target
#   FUZZ_SANITIZER=none scripts/fuzz.sh 60
#
# Works on the stable toolchain: cargo-fuzz passes nightly-only `-Z` flags to rustc
# (sanitizer, sancov instrumentation), and RUSTC_BOOTSTRAP=1 lets a stable rustc accept
# them. The address sanitizer's runtime ships with the stable x86_64 Linux toolchain;
# FUZZ_SANITIZER=none skips it (the parsers are safe Rust, so ASan mainly guards the
# dependencies) at the price of a rebuild. models/fuzz/TARGET.dict, where present, gives
# libFuzzer the target's tokens (the grammar's tags and brackets, the manifest's keys).
#
# Each target's committed seed corpus (models/fuzz/corpus/TARGET/seed-*) is copied into a
# scratch folder, so the inputs libFuzzer adds never land in the checkout. Exits non-zero
# on a crash, a panic, a timeout or an out-of-memory, at the first target that has one; the
# failing input is kept under models/fuzz/artifacts/TARGET/ (git-ignored) and can be
# replayed with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET <artifact>   (from models/fuzz).
set -euo pipefail

usage="usage: scripts/fuzz.sh [SECONDS] [TARGET]"
secs=${1:-30}
case "$secs" in '' | *[!0-9]*) echo "$usage" >&2; exit 2 ;; esac
sanitizer=${FUZZ_SANITIZER:-address}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
fuzz=$root/models/fuzz
# shellcheck source=scripts/env.sh
source "$here/env.sh"
if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: cargo-fuzz not found; run scripts/setup.sh all" >&2
  exit 2
fi

# Every target is a file in fuzz_targets/ (and a [[bin]] of models/fuzz/Cargo.toml).
all=()
for f in "$fuzz"/fuzz_targets/*.rs; do all+=("$(basename "$f" .rs)"); done
if [ $# -ge 2 ]; then
  if [ ! -f "$fuzz/fuzz_targets/$2.rs" ]; then
    echo "fuzz: unknown target \`$2\` (targets: ${all[*]})" >&2
    echo "$usage" >&2
    exit 2
  fi
  targets=("$2")
else
  targets=("${all[@]}")
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/reticle-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

cd "$fuzz"
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  corpus=$scratch/$target
  mkdir -p "$corpus"
  cp "$fuzz/corpus/$target"/seed-* "$corpus"/
  # Inputs a little longer than the largest seed: answers are short, manifests ~2 KB.
  case "$target" in
    manifest) max_len=8192 ;;
    *) max_len=4096 ;;
  esac
  dict=()
  if [ -f "$fuzz/$target.dict" ]; then dict=(-dict="$fuzz/$target.dict"); fi
  echo "fuzz: $target for ${secs}s (sanitizer: $sanitizer, corpus: $corpus)" >&2
  cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -max_len="$max_len" -print_final_stats=1 \
    "${dict[@]}"
  echo "fuzz: $target: no failure in ${secs}s" >&2
done
