#!/usr/bin/env bash
# Training click records on random web pages rendered by a real browser (Debian's chromium):
# scripts/recipes/pointer/web (page.mjs draws the page from a seed, gen.mjs renders it and reads
# the targets from the DOM). Installs chromium and playwright-core first (scripts/chromium.sh).
#
#   scripts/web_screens.sh --n SCREENS --seed SEED --out DIR [--per-screen K] [--nothing-rate P] [--kinds K1,K2,…]
#
# About 0.3 s per screen on 2 cores. The pages are generated, never the pages of
# evalsets/real-screens (which are evaluation only).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/chromium.sh
exec node scripts/recipes/pointer/web/gen.mjs "$@"
