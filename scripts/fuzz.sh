#!/usr/bin/env bash
# Fuzzes the answer grammar (models/fuzz, target `answer_grammar`) for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]          # default 30
#   FUZZ_SANITIZER=none scripts/fuzz.sh 60
#
# Works on the stable toolchain: cargo-fuzz passes nightly-only `-Z` flags to rustc
# (sanitizer, sancov instrumentation), and RUSTC_BOOTSTRAP=1 lets a stable rustc accept
# them. The address sanitizer's runtime ships with the stable x86_64 Linux toolchain;
# FUZZ_SANITIZER=none skips it (the grammar is safe Rust, so ASan mainly guards the
# dependencies) at the price of a rebuild. models/fuzz/answer_grammar.dict gives libFuzzer
# the grammar's tags and brackets.
#
# The committed seed corpus (models/fuzz/corpus/answer_grammar/seed-*) is copied into a
# scratch folder, so the inputs libFuzzer adds never land in the checkout. Exits non-zero
# on a crash, a panic, a timeout or an out-of-memory; the failing input is kept under
# models/fuzz/artifacts/answer_grammar/ (git-ignored) and can be replayed with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run answer_grammar <artifact>   (from models/fuzz).
set -euo pipefail

secs=${1:-30}
case "$secs" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
sanitizer=${FUZZ_SANITIZER:-address}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=scripts/env.sh
source "$here/env.sh"
if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: cargo-fuzz not found; run scripts/setup.sh all" >&2
  exit 2
fi

seeds=$root/models/fuzz/corpus/answer_grammar
scratch=$(mktemp -d "${TMPDIR:-/tmp}/reticle-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp "$seeds"/seed-* "$scratch"/

cd "$root/models/fuzz"
export RUSTC_BOOTSTRAP=1
echo "fuzz: answer_grammar for ${secs}s (sanitizer: $sanitizer, corpus: $scratch)" >&2
cargo fuzz run --sanitizer "$sanitizer" answer_grammar "$scratch" -- \
  -max_total_time="$secs" -timeout=10 -max_len=4096 -print_final_stats=1 \
  -dict="$root/models/fuzz/answer_grammar.dict"
echo "fuzz: no failure in ${secs}s" >&2
