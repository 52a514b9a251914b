#!/usr/bin/env bash
# Runs every check reticle has: set-up (idempotent), formatting, clippy, all tests, a short
# fuzz run. This is the README's test command and what CI runs.
#
#   scripts/test.sh            # everything
#   FUZZ_SECONDS=0 scripts/test.sh   # skip the fuzz run
#   SERVE_CHECKS=0 scripts/test.sh   # skip the service's API fuzz and load test
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "set-up"
scripts/setup.sh all
# shellcheck source=scripts/env.sh
source scripts/env.sh
# Build outputs are cached beside the downloads so a fresh clone does not rebuild libtorch's
# C++ bindings and every dependency from scratch; set CARGO_TARGET_DIR to override.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RETICLE_CACHE/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step "rustfmt"
cargo fmt --all -- --check

step "clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "web page generator (node --test, no browser)"
node --test scripts/recipes/pointer/web/

if [ "${SERVE_CHECKS:-1}" != 0 ]; then
  step "service reliability: schemathesis API fuzz (${SERVE_FUZZ_EXAMPLES:-25} examples per operation), 15 s load test"
  # Short versions of the issue's reliability checks; the long ones are the same scripts
  # with bigger arguments (docs/serve.md).
  scripts/serve_fuzz.sh "${SERVE_FUZZ_EXAMPLES:-25}"
  scripts/serve_load.sh 15
fi

if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  step "fuzz: every target, ${FUZZ_SECONDS:-30}s each"
  # The fuzz build uses its own flags (sanitizer, coverage), so its own target folder.
  CARGO_TARGET_DIR=$RETICLE_CACHE/fuzz-target scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi

step "all checks passed"
